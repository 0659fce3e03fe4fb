// Package cellstore keeps each tenant's records in the tenant's cell: a Router is a
// store.Store over a central store (the platform's records, and pool tenants') and the
// stores of silo tenants' own cells, and places every operation by a Layout that names
// each partition's placement:
//
//   - Central: the platform's own records (tenant directory, credentials, registry,
//     audit trail), whoever they are about.
//   - TenantInPK: partitions named by their tenant (QUOTA#<tenant>, RAGDOC#<tenant>#<kb>).
//   - TenantInSK: a partition tenants share, each sort key naming its tenant
//     (EVAL#SUITES / SUITE#<tenant>#<id>); a query naming no tenant reads every cell.
//   - OwnedBy: partitions keyed by a generated ID (EVAL#RUN#<run>) and listings tenants
//     share: a record whose data names its tenant goes to that tenant's cell, the rest of
//     its partition follows it, and reads visit every cell. OwnedOrShared is the same for
//     definitions the platform may share (data naming no tenant is central).
//
// A pool tenant's cell is the central store, so without silo tenants the router is its
// central store. A write the router cannot place (no tenant in its key, data, partition
// or context, store.WithOwner) fails with ErrNoOwner rather than land in the central
// store, and a transaction whose operations belong to two cells fails with ErrCrossCell:
// cells cannot commit together. IDs of OwnedBy partitions stay unique across cells
// (a create of an ID another cell holds fails its condition), as they were in one table.
package cellstore
