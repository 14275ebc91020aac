package sourcedate

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1764000000", 1764000000, false},
		{" 0 ", 0, false},
		{"", 0, true},
		{"-5", 0, true},
		{"+5", 0, true},
		{"1.5", 0, true},
		{"yesterday", 0, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("Parse(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
		}
		if err == nil && (got.Unix() != tt.want || got.Location() != time.UTC) {
			t.Fatalf("Parse(%q) = %v", tt.in, got)
		}
	}
}

func TestLookup(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if _, ok, err := Lookup(get); ok || err != nil {
		t.Fatalf("unset: ok=%v err=%v", ok, err)
	}
	env[Name] = "42"
	if got, ok, err := Lookup(get); !ok || err != nil || got.Unix() != 42 {
		t.Fatalf("set: %v %v %v", got, ok, err)
	}
	env[Name] = "x"
	if _, ok, err := Lookup(get); ok || err == nil {
		t.Fatal("bad value accepted")
	}
}
