//go:build memberlist_label

// Labels exist from memberlist 0.3.1 on: build with -tags memberlist_label against such a
// memberlist (first on GOPATH) to have -label.
package main

import "github.com/hashicorp/memberlist"

func setLabel(c *memberlist.Config, label string) {
	c.Label = label
}
