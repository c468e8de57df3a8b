// Package standard lists the modules a Herald server loads by default, in
// registration order. Adding a built-in feature means adding one line here.
package standard

import (
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/namespaces/blocking"
	"github.com/herald-im/herald/namespaces/carbons"
	"github.com/herald-im/herald/namespaces/disco"
	"github.com/herald-im/herald/namespaces/entitytime"
	"github.com/herald-im/herald/namespaces/ping"
	"github.com/herald-im/herald/namespaces/presrules"
	"github.com/herald-im/herald/namespaces/privacy"
	"github.com/herald-im/herald/namespaces/roster"
	"github.com/herald-im/herald/namespaces/version"
)

// Modules returns the default modules.
func Modules() []namespaces.Module {
	return []namespaces.Module{
		disco.Module{},
		ping.Module{},
		version.Module{},
		entitytime.Module{},
		roster.Module{},
		carbons.Module{},
		privacy.Module{},
		blocking.Module{},
		presrules.Module{},
	}
}
