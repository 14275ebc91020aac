// Command hello stands in for an action program in prebuilt.sh's test.
package main

import "fmt"

func main() { fmt.Println("hello from the prebuilt program") }
