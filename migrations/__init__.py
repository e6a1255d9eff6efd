"""Versioned SQL, shipped inside the installed package: `payment-service migrate` reads it."""
