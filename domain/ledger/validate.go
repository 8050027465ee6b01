package ledger

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"civicard/domain/settlement/payout"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// Limits on everything the ledger stores, so one command cannot make a
// result, a snapshot record or the header unboundedly large. Restore holds
// snapshot records to the same limits.
const (
	commandIDBytesMax     = 128
	institutionIDBytesMax = 64
	terminalIDBytesMax    = 64
	cardIDBytesMax        = 32
	serviceCodeBytesMax   = 64
	// textBytesMax bounds free text: names, towns, locations, block reasons.
	textBytesMax = 256
	servicesMax  = 256
	// institutionsMax and seedsMax bound the snapshot header, which lists
	// every receivable and every seed: with these limits it stays far below
	// recordBytesMax.
	institutionsMax = 10_000
	seedsMax        = 1024
	credentialBytes = 32
	// publicKeyBytes is the size of a terminal's ed25519 public key.
	publicKeyBytes = 32
	// recordBytesMax bounds one snapshot record, so Restore of garbage
	// cannot allocate more than this for a record.
	recordBytesMax = 4 << 20
)

// checkText holds a stored string to its length and to UTF-8, which proto3
// requires of strings: a command built in Go (not unmarshalled) could carry
// invalid UTF-8, and storing it would make the snapshot unmarshallable.
func checkText(field, s string, bytesMax int, required bool) error {
	if required && s == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if len(s) > bytesMax {
		return fmt.Errorf("%s is %d bytes, more than %d", field, len(s), bytesMax)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %s is not valid UTF-8", field, clip(s))
	}
	return nil
}

func checkCommandID(id string) error {
	return checkText("command id", id, commandIDBytesMax, true)
}

func checkCardID(id string) error {
	return checkText("card id", id, cardIDBytesMax, true)
}

// checkInstitution checks an institution record's shape: everything but its
// uniqueness.
func checkInstitution(rec *civicardv1.Institution, amountMaxMinor int64) error {
	if rec == nil {
		return errors.New("institution is missing")
	}
	if err := checkText("institution id", rec.GetInstitutionId(), institutionIDBytesMax, true); err != nil {
		return err
	}
	if k := rec.GetKind(); k == civicardv1.ServiceKind_SERVICE_KIND_UNSPECIFIED || civicardv1.ServiceKind_name[int32(k)] == "" {
		return fmt.Errorf("institution %s: service kind %d is not specified", clip(rec.GetInstitutionId()), k)
	}
	if err := checkText("institution name", rec.GetName(), textBytesMax, false); err != nil {
		return err
	}
	if err := checkText("institution town", rec.GetTown(), textBytesMax, false); err != nil {
		return err
	}
	services := rec.GetServices()
	if len(services) > servicesMax {
		return fmt.Errorf("institution %s has %d services, more than %d", clip(rec.GetInstitutionId()), len(services), servicesMax)
	}
	seen := make(map[string]struct{}, len(services))
	for i, svc := range services {
		code := svc.GetCode()
		if err := checkText(fmt.Sprintf("service %d code", i), code, serviceCodeBytesMax, true); err != nil {
			return err
		}
		if _, dup := seen[code]; dup {
			return fmt.Errorf("service code %s appears twice", clip(code))
		}
		seen[code] = struct{}{}
		if err := checkText(fmt.Sprintf("service %s name", clip(code)), svc.GetName(), textBytesMax, false); err != nil {
			return err
		}
		if p := svc.GetUnitPriceMinor(); p < 0 || p > amountMaxMinor {
			return fmt.Errorf("service %s unit price %d is outside [0, %d]", clip(code), p, amountMaxMinor)
		}
	}
	if iban := rec.GetIban(); iban != "" {
		if err := payout.CheckIBAN(iban); err != nil {
			return fmt.Errorf("institution %s: %w", clip(rec.GetInstitutionId()), err)
		}
	}
	return nil
}

// checkTerminal checks a terminal record's shape: everything but its
// uniqueness and its institution's existence.
func checkTerminal(rec *civicardv1.Terminal) error {
	if rec == nil {
		return errors.New("terminal is missing")
	}
	if err := checkText("terminal id", rec.GetTerminalId(), terminalIDBytesMax, true); err != nil {
		return err
	}
	if err := checkText("terminal institution id", rec.GetInstitutionId(), institutionIDBytesMax, true); err != nil {
		return err
	}
	if err := checkText("terminal location", rec.GetLocation(), textBytesMax, false); err != nil {
		return err
	}
	if n := len(rec.GetCredentialSha256()); n != credentialBytes {
		return fmt.Errorf("terminal %s: credential_sha256 is %d bytes, not %d", clip(rec.GetTerminalId()), n, credentialBytes)
	}
	if n := len(rec.GetPublicKey()); n != 0 && n != publicKeyBytes {
		return fmt.Errorf("terminal %s: public_key is %d bytes, not %d", clip(rec.GetTerminalId()), n, publicKeyBytes)
	}
	return nil
}

// checkCardFields checks what OpenCard and a snapshot's card record share.
func checkCardFields(id string, kind civicardv1.CardKind, holderName string) error {
	if err := checkCardID(id); err != nil {
		return err
	}
	switch kind {
	case civicardv1.CardKind_CARD_KIND_PERSONAL, civicardv1.CardKind_CARD_KIND_BEARER:
	default:
		return fmt.Errorf("card %s: card kind %d is not specified", clip(id), kind)
	}
	if err := checkText("holder name", holderName, textBytesMax, false); err != nil {
		return err
	}
	// A bearer card is anonymous by definition; a name on it would be
	// personal data the holder never agreed to give.
	if kind == civicardv1.CardKind_CARD_KIND_BEARER && holderName != "" {
		return fmt.Errorf("card %s: a bearer card has no holder name", clip(id))
	}
	return nil
}

// copyInstitution builds a fresh record from the known fields. A clone would
// keep unknown fields, which a snapshot drops, and then a restored ledger
// would not digest like the original.
func copyInstitution(rec *civicardv1.Institution) *civicardv1.Institution {
	out := &civicardv1.Institution{
		InstitutionId: rec.GetInstitutionId(),
		Name:          rec.GetName(),
		Town:          rec.GetTown(),
		Kind:          rec.GetKind(),
		Iban:          rec.GetIban(),
	}
	if len(rec.GetServices()) > 0 {
		out.Services = make([]*civicardv1.Service, len(rec.GetServices()))
		for i, svc := range rec.GetServices() {
			out.Services[i] = &civicardv1.Service{Code: svc.GetCode(), Name: svc.GetName(), UnitPriceMinor: svc.GetUnitPriceMinor()}
		}
	}
	return out
}

func copyTerminal(rec *civicardv1.Terminal) *civicardv1.Terminal {
	return &civicardv1.Terminal{
		TerminalId:       rec.GetTerminalId(),
		InstitutionId:    rec.GetInstitutionId(),
		Location:         rec.GetLocation(),
		CredentialSha256: append([]byte(nil), rec.GetCredentialSha256()...),
		PublicKey:        bytesOrNil(rec.GetPublicKey()),
		Revoked:          rec.GetRevoked(),
	}
}

// bytesOrNil copies b, keeping an empty field empty (nil), as a decoded
// snapshot record has it.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// clip quotes s for an error message, cut to a few dozen bytes: errors are
// stored in results, and a huge id must not make a huge result. The quoting
// escapes invalid UTF-8, so the message is always valid proto3 text.
func clip(s string) string {
	const bytesMax = 64
	if len(s) <= bytesMax {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:bytesMax]) + "..."
}

// checkStoredResult checks a result read from a snapshot: it must be one that
// Apply could have stored.
func checkStoredResult(res *ledgerv1.Result) error {
	if res == nil {
		return errors.New("result is missing")
	}
	switch res.GetStatus() {
	case ledgerv1.Status_STATUS_OK, ledgerv1.Status_STATUS_DECLINED, ledgerv1.Status_STATUS_REJECTED:
	default:
		return fmt.Errorf("status %v is never stored", res.GetStatus())
	}
	if res.GetReplayed() {
		return errors.New("a stored result is never replayed")
	}
	if ledgerv1.RejectReason_name[int32(res.GetRejectReason())] == "" {
		return fmt.Errorf("unknown reject reason %d", res.GetRejectReason())
	}
	if n := len(res.GetCommandSha256()); n != 0 && n != 32 {
		return fmt.Errorf("command digest of %d bytes", n)
	}
	return nil
}
