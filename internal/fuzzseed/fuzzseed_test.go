package fuzzseed

import "testing"

func TestEncode(t *testing.T) {
	got, err := Encode([]byte("a\n\"b\""), "c", uint8(7), true, 42)
	if err != nil {
		t.Fatal(err)
	}
	want := "go test fuzz v1\n[]byte(\"a\\n\\\"b\\\"\")\nstring(\"c\")\nbyte('\\a')\nbool(true)\nint(42)\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := Encode(1.5); err == nil {
		t.Error("a float64 argument was encoded; the targets use none, so it is refused")
	}
}
