"""Data quality of the warehouse: completeness of the clinical tables month by month (Ibis)."""

from proxisante.quality.completeness import CLINICAL_TABLES, completeness_by_month

__all__ = ["CLINICAL_TABLES", "completeness_by_month"]
