// Package payout writes and checks the files that pay the institutions: ISO
// 20022 pain.001.001.09 customer credit transfer initiations (SEPA credit
// transfer, one per settlement batch), and the IBANs they pay to.
//
// It is pure: Write turns a Batch into XML bytes, Validate checks XML bytes
// against the rules of the message, CheckIBAN checks an account number.
// Nothing reads a clock; the creation time comes in the Batch.
//
// # Why a validator of our own
//
// A bank rejects a whole file for one bad field, days later. Validate holds
// a file to the rules the bank applies before it accepts it: the XML
// schema's structure and formats (MsgId and EndToEndId at most 35
// characters of the SEPA character set, ISODateTime, ISODate, amounts above
// zero with at most two decimals, ISO 4217 currency), the group header's
// NbOfTxs and CtrlSum equal to the transactions' count and sum, PmtMtd TRF,
// debtor and every creditor account a valid IBAN, BICs well-formed, and
// every end-to-end id unique. Tests run it on every file written, and on
// hand-written valid and invalid documents, so a writer bug cannot pass.
//
// # Ids
//
// MsgId and PmtInfId name the batch ("CIVICARD-C<cycle>"), EndToEndId the
// batch and the institution ("C<cycle>-<institution id>", institution ids
// reduced to the allowed characters and cut to fit): a bank, the operator
// and the institution can match a credit to its statement by it, and a file
// sent twice is recognisable as the same payments.
package payout
