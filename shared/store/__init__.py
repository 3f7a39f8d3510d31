"""The one door to Firestore: one module per collection, a lazily created client."""
