"""The domain as plain functions. Services never import Flask's request, web or jobs."""
