package canonjson

import "testing"

func TestMarshal(t *testing.T) {
	type s struct {
		Zeta  string `json:"zeta"`
		Alpha int64  `json:"alpha"`
		Range string `json:"range"`
	}
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"struct fields sorted", s{"z", 9007199254740993, ">=1.0 <2"}, "{\n  \"alpha\": 9007199254740993,\n  \"range\": \">=1.0 <2\",\n  \"zeta\": \"z\"\n}\n"},
		{"map keys sorted", map[string]any{"b": []int{1}, "a": nil}, "{\n  \"a\": null,\n  \"b\": [\n    1\n  ]\n}\n"},
		{"scalar", "x&y", "\"x&y\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReformatKeepsNumbersExact(t *testing.T) {
	got, err := Reformat([]byte(`{"b":1.50,"a":123456789012345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": 123456789012345678901234567890,\n  \"b\": 1.50\n}\n"
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := Reformat([]byte(`{"a":`)); err == nil {
		t.Fatal("truncated JSON accepted")
	}
}

func TestCompact(t *testing.T) {
	got, err := Compact(map[string]string{"k": "<a&b>"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"k":"<a&b>"}` {
		t.Fatalf("got %q", got)
	}
}
