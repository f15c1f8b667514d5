"""Thin resolvers: reading (read model), writing (ledger batches), audit (log and Merkle proofs)."""
