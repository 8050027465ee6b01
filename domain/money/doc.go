// Package money parses and prints amounts of money as people write them
// ("20.00", "3,40 PLN") and as civicard stores them: an int64 number of minor
// units (grosz). Nothing in civicard holds money as a float; this package is
// the one place where text becomes minor units and back.
package money
