package spec
import ("fmt"; "testing")
func TestScratch3(t *testing.T){ c, err := LoadFile("testdata/good.yaml"); fmt.Println(err); if c != nil { fmt.Println(c.Auth.Token.Src, c.InteractionTypes.Keys) } }
