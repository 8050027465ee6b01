// Package tapline reads the tap lines of the fare scenarios in
// domain/tariff/testdata, so that the engine's table test and the
// end-to-end test that replays the same scenarios through the API read them
// alike: the same arguments, the same refusals, the same name for a tap in
// the output.
package tapline
