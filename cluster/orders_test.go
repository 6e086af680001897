package cluster_test

import (
	"sgw/cluster"
	"sgw/orders"
)

// The order manager can journal through the cluster.
var _ orders.Journal = (*cluster.Journal)(nil)
