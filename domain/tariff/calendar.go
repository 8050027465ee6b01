package tariff

import "time"

// The city's calendar. Caps reset at local midnight and on Monday, the
// bearer limit on the first of the month, the top-up limit on the first of
// January, all in Polish time: CET (UTC+1), and CEST (UTC+2) from 01:00 UTC
// on the last Sunday of March to 01:00 UTC on the last Sunday of October,
// the EU rule since 1996. The rule is computed here rather than read from
// the host's time zone database, so that every replica, whatever tzdata it
// has, puts a tap in the same day: the engine's answers must replay byte
// for byte.

// Date is where a moment falls in the city's calendar, as period keys that
// compare and subtract as integers.
type Date struct {
	// Day is the local date as days since 1970-01-01.
	Day int32
	// Week is the local ISO week (Monday to Sunday) as weeks since the
	// Monday 1969-12-29.
	Week int32
	// Month is year*12 + month-1 of the local date.
	Month int32
	// Year is the local year.
	Year int32
	// MinuteOfDay is the local time of day in minutes, for the breakdown.
	MinuteOfDay int32
}

const (
	msPerMinute = 60_000
	msPerDay    = 24 * 60 * msPerMinute
)

// When returns the local date of a Unix time in milliseconds. Times before
// 1970 are not meaningful here; Tap validation refuses them.
func When(unixMs int64) Date {
	local := unixMs + utcOffsetMs(unixMs)
	day := floorDiv(local, msPerDay)
	t := time.UnixMilli(local).UTC()
	return Date{
		Day:         int32(day),
		Week:        int32(floorDiv(day+3, 7)), // 1970-01-01 was a Thursday
		Month:       int32(t.Year()*12 + int(t.Month()) - 1),
		Year:        int32(t.Year()),
		MinuteOfDay: int32((local - day*msPerDay) / msPerMinute),
	}
}

// DayOf returns the day key of a calendar date (month 1..12).
func DayOf(year, month, day int) int32 {
	return int32(time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// dayString prints a day key as 2026-11-23.
func dayString(day int32) string {
	return time.Unix(int64(day)*86400, 0).UTC().Format(time.DateOnly)
}

// clock prints the local time of day of a Unix time as 07:05.
func clock(unixMs int64) string {
	m := When(unixMs).MinuteOfDay
	return string([]byte{byte('0' + m/600), byte('0' + m/60%10), ':', byte('0' + m%60/10), byte('0' + m%10)})
}

// utcOffsetMs is Poland's offset from UTC at a moment: one hour, two in
// summer time.
func utcOffsetMs(unixMs int64) int64 {
	const hour = 60 * msPerMinute
	year := time.UnixMilli(unixMs).UTC().Year()
	start := lastSundayAt1UTC(year, time.March)
	end := lastSundayAt1UTC(year, time.October)
	if unixMs >= start && unixMs < end {
		return 2 * hour
	}
	return hour
}

// lastSundayAt1UTC is 01:00 UTC on the last Sunday of month, in Unix ms.
func lastSundayAt1UTC(year int, month time.Month) int64 {
	last := time.Date(year, month+1, 0, 1, 0, 0, 0, time.UTC) // day 0: the last day of month
	last = last.AddDate(0, 0, -int(last.Weekday()))
	return last.UnixMilli()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
