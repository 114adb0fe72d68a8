"""ACME's Vigil plugin: rules Vigil loads through the `vigil.rules` entry point."""
