package expr
import ("context"; "math/big"; "fmt"; "testing"; "encoding/json")
func TestScratch(t *testing.T){
  for _, src := range []string{".config.subdomain", ".cursor", ".a | .b", ".a // .b", "{x: .config.a, y: .page.limit}", "if .a then .b elif .c then .d else .e end", "\"\\(.config.x)-\\(.cursor)\"", "map(.x)", "select(.x)", ".a[0]", ".[\"config\"][\"x\"]", ".config | .x", ".a.b.c", "(.a)", "[.a, .b]", ".a + .b", ".a and .b", ". as $v | $v.config.x", "\"lit\"", ".", "..", ".a, .a", ".a?", ".a[]", ".a.b?", "{(.k): .v}", "{config}", ".a as $x | .b", "try .a catch .b", "reduce .a[] as $x (0; . + $x)", "-.a", ".a | length", ".[\"a\\(.b)\"]", "@base64 \"\\(.credentials.token)\"", "[.a[] | .b]", ".a[1:2]", "not", ".config.x.y", "{a: .x} | .a", ".a == .b", "label $out | .a", "def f: .x; f", ".a as [$x] | $x", "{\"k\": .a}", "{\"\\(.a)\": 1}"} {
    q := MustCompile(src)
    fmt.Printf("%-45q %v\n", src, q.RootPaths())
  }
  ctx := context.Background()
  q := MustCompile(".")
  v, _ := q.First(ctx, json.Number("9223372036854775807")); fmt.Printf("%T %v\n", v, v)
  v, _ = MustCompile(".n").First(ctx, map[string]any{"n": json.Number("12.50")}); fmt.Printf("%T %v\n", v, v)
  v, _ = MustCompile(". + 1").First(ctx, json.Number("9223372036854775807")); fmt.Printf("%T %v %s\n", v, v, Text(v))
  fmt.Println(Text(map[string]any{"q": "<a&b>", "b": []any{1, 2.5, nil}}), Text(1e15), Text(123456789012345.0), Text(-3.0), Text(0.1), Text(big.NewInt(5)), Text([]any{}), Text(map[string]any{}), Text(1e20), Text(-1e15))
  c, cancel := context.WithCancel(ctx); cancel()
  _, err := MustCompile("range(infinite)").All(c, nil); fmt.Println("cancel:", err)
  v, err = MustCompile("repeat(1)").First(ctx, nil); fmt.Println("repeat:", v, err)
  tr, err := MustCompile(".[]").Truthy(ctx, []any{0}); fmt.Println(tr, err)
}
