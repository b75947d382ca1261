"""The ViewDefinition compiler: ``parser`` (FHIRPath text → ``ast``), ``model`` (view JSON checked and
parsed), ``expressions`` (FHIRPath → SQL expression), ``query`` (select tree → one SQL query).
The public entry is :mod:`proxisante.ingest.fhir.views`."""
