"""Development tooling of the Baltic Sea Impact Network pipeline, never deployed: the Forms
API emulator, the local SMTP sink, the sample-data generator, the local Airflow runner and
demo helpers, report screenshots and the form-mapping draft tool. It imports ``bsin``; the
runtime package never imports it."""
