"""Configuration: typed partner, form and programme config (pydantic), its checks, paths and months."""
