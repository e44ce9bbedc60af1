"""HTTP route tables and their binding to Powertools resolvers."""
