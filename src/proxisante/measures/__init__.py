"""Measures: indicator definitions (YAML) compiled to Ibis, results, care gaps, disclosure control."""
