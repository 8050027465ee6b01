// Package demo generates the demo city: the institutions of the Katowice
// conurbation with their price lists, their terminals with credentials, and
// the cards of its inhabitants, all from one seed.
//
// It exists so that every part of civicard can be run, measured and shown
// against a city of the size of ŚKUP (about 120 institutions, 2 500
// terminals, 150 000 cards) without real personal data: `civicard up` and a
// new cluster load it into an empty ledger, and the simulator and the
// benchmarks drive load against it.
//
// Use:
//
//	cfg := demo.DefaultConfig()
//	cfg.CredentialKey = key // per installation, at least 16 bytes, kept secret
//	data, err := demo.Generate(cfg)
//	for _, cmd := range data.Commands(cfg.Seed) { propose cmd to the ledger }
//
// The order of the commands matters and Commands keeps it: institutions
// before their terminals, a card before its top-up, and MarkSeeded last, so
// that a ledger that holds the mark holds all of the city. Every command has a
// fixed id derived from the seed; a loader that stops half-way runs again from
// the start, and the ledger answers the commands it already applied with
// their first results. Load one seed per ledger: the institutions of two
// seeds share their ids.
//
// Generation is pure and deterministic: no clock, no I/O, no global state;
// math/rand/v2 PCG streams seeded from Config.Seed alone. The same Config
// gives the same Dataset, byte for byte. The institutions and their price
// lists are the same for every seed (they are the city); the seed decides the
// terminals and the cards. The cards of a smaller run are the first cards of
// a larger one with the same seed.
//
// Terminal credentials are derived from Config.CredentialKey, not from the
// seed, because the seed is not a secret (it is in the ids of the commands):
// with the seed alone nobody can act as a terminal. The ledger stores only
// the SHA-256 of a credential; the credential itself goes to the terminal.
//
// A change to the generator that changes its output changes the city that an
// existing installation loaded, and a reload would then open a second set of
// cards. TestGolden guards against that by accident; change its digest only
// on purpose.
package demo
