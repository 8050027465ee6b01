package tariff_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"civicard/domain/tariff"
	"civicard/domain/tariff/tarifftest"
)

// The test city's region and every price list survive the trip through
// their files unchanged.
func TestFilesRoundTrip(t *testing.T) {
	region, lists := tarifftest.City(t)
	data, err := tariff.FormatRegion(region)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tariff.ParseRegion(data)
	if err != nil {
		t.Fatalf("ParseRegion(FormatRegion) = %v\n%s", err, data)
	}
	if !reflect.DeepEqual(back, region) {
		t.Fatalf("region changed on the way:\n%+v\n%+v", back, region)
	}
	for _, list := range lists {
		data, err := tariff.FormatPriceList(list)
		if err != nil {
			t.Fatal(err)
		}
		back, err := tariff.ParsePriceList(data)
		if err != nil {
			t.Fatalf("%s: ParsePriceList(FormatPriceList) = %v\n%s", list.InstitutionID, err, data)
		}
		if !reflect.DeepEqual(back, list) {
			t.Fatalf("%s changed on the way:\n%+v\n%+v", list.InstitutionID, back, list)
		}
	}
}

// A file that does not decode is refused with the line of the mistake and
// what it is.
func TestParsePriceListSaysTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		line       int
		reason     string
	}{
		{"unknown field in a product", `{
  "InstitutionID": "KAT-LIB-01",
  "Kind": "SERVICE_KIND_LIBRARY",
  "Products": [
    {"Code": "PRINT", "Rule": "unit", "PriceMinor": 50},
    {"Code": "FINE", "Rule": "unit",
     "Prise": 20}
  ]
}`, 7, `Products[1]: unknown field "Prise"`},
		{"unknown field at the top", `{
  "InstitutionID": "KAT-LIB-01",
  "Owner": "city"
}`, 3, `unknown field "Owner"`},
		{"unknown rule", `{
  "Products": [
    {"Code": "PRINT",
     "Rule": "per-page", "PriceMinor": 50}
  ]
}`, 4, `Products[0].Rule: rule "per-page"`},
		{"unknown kind", `{"InstitutionID": "X",
"Kind": "LIBRARY"}`, 2, `Kind: kind "LIBRARY"`},
		{"a string for a number", `{"Products": [
  {"Code": "PRINT", "Rule": "unit",
   "PriceMinor": "0.50"}]}`, 3, "Products.PriceMinor: a JSON string where int64 is wanted"},
		{"a missing comma", `{
  "InstitutionID": "X"
  "Kind": "SERVICE_KIND_LIBRARY"
}`, 3, "after object key:value pair"},
		{"cut short", `{"InstitutionID": "X",
  "Products": [`, 2, "ends in the middle"},
		{"two documents", `{"InstitutionID": "X"}
{"InstitutionID": "Y"}`, 2, "data after the end"},
		{"empty", ``, 1, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tariff.ParsePriceList([]byte(tc.file))
			var fe *tariff.FileError
			if !errors.As(err, &fe) || !errors.Is(err, tariff.ErrFile) {
				t.Fatalf("ParsePriceList = %v, want a FileError", err)
			}
			if fe.Line != tc.line || !strings.Contains(fe.Reason, tc.reason) {
				t.Fatalf("ParsePriceList = line %d %q, want line %d and %q", fe.Line, fe.Reason, tc.line, tc.reason)
			}
		})
	}
}

func TestParseRegionSaysTheLine(t *testing.T) {
	_, err := tariff.ParseRegion([]byte(`{
  "Network": {
    "Lines": [{"ID": "T6", "Stops": [{"ID": "A", "Metres": 0}, {"ID": "B", "Metre": 900}]}]
  }
}`))
	var fe *tariff.FileError
	if !errors.As(err, &fe) || fe.Line != 3 || !strings.Contains(fe.Reason, `Network.Lines[0].Stops[1]: unknown field "Metre"`) {
		t.Fatalf("ParseRegion = %v, want line 3 naming the field", err)
	}
}
