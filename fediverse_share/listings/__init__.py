"""Offers and needs: the listing model, its wire format (FEP-0837), search and matching."""
