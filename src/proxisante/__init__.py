"""proxisante: a health data warehouse for French primary care ("pilotage clinique par la donnée")."""

__version__ = "0.1.0"
