"""Cross-community trades: FEP-0837 negotiation, federated steps, receipts and reviews."""
