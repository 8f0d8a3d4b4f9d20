package spec
import ("fmt"; "testing"; "time"; "encoding/json")
func TestScratch2(t *testing.T){
  for _, d := range []time.Duration{30*time.Second, 10*time.Second, 90*time.Second, 5*time.Minute, 3*time.Hour, 7*24*time.Hour, 90*time.Minute, 36*time.Hour, 0, 500*time.Millisecond, 24*time.Hour, 2*time.Hour+30*time.Second, 1500*time.Millisecond, time.Minute+10*time.Second, 25*time.Hour} { fmt.Printf("%v -> %q\n", d, FormatDuration(d)) }
  for _, s := range []string{"", "30s", "1d12h", "1.5d", "3 hours", "3", "d", "1d2", "-1h", "-1d", "1h-1d", "h", "1x", " 1h", "1e3s", "2d2d"} { d, err := ParseDuration(s); fmt.Printf("%q -> %v %v\n", s, d, err) }
  _, err := ParseTimeValue(json.Number("1709634030"), "rfc3339"); fmt.Println(err)
  _, err = ParseTimeValue(true, "unix"); fmt.Println(err)
  tm, err := ParseTimeValue(json.Number("1709634030123"), "unix_ms"); fmt.Println(tm, err)
  tm, err = ParseTimeValue(json.Number("1709634030.25"), "unix"); fmt.Println(tm.Format(time.RFC3339Nano), err)
  tm, err = ParseTime("2024-01-01", "unix"); fmt.Println(tm, err)
  tm, err = ParseTime("05/03/2024", "02/01/2006"); fmt.Println(tm, err)
  tm, err = ParseTime("2024-03-05T12:20:30.5+02:00", "rfc3339"); fmt.Println(tm, err)
  tm, err = ParseTime("1709634030", "rfc3339"); fmt.Println(tm, err)
  tm, err = ParseTime("yesterday", "unix_ms"); fmt.Println(tm, err)
  tm, err = ParseTime("-1", "unix"); fmt.Println(tm, err)
  tm, err = ParseTime("1e3", "unix"); fmt.Println(tm, err)
  tm, err = ParseTime("NaN", "unix"); fmt.Println(tm, err)
}
