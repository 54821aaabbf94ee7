"""Cross-file configuration checks, run when a DAG file is parsed.

partners.yaml and each mapping file are valid on their own (bsin.core.config, bsin.transform.mapping);
these checks catch what only shows when the files are read together: a configured form
without a mapping, a mapping for a country or form that is not configured. They read
files only (no network, no warehouse), so a mistake becomes a DAG import error in the
Airflow UI that names the file and the fix, before any task runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from bsin.core.config import FORM_KINDS, ConfigError, PartnersConfig
from bsin.core.paths import config_dir as default_config_dir

_MAPPING_NAME = re.compile(r"^(?P<country>[a-z]{2})_(?P<kind>[a-z_]+)\.yaml$")


def config_problems(partners: PartnersConfig, config_dir: Path | None = None) -> list[str]:
    """Every cross-file problem of the config folder, one ``file: problem; fix`` line each."""
    from bsin.transform.mapping import load_mapping, mapping_path

    base = Path(config_dir) if config_dir is not None else default_config_dir()
    partners_file = base / "partners.yaml"
    problems: list[str] = []
    for partner in partners.partners:
        for kind in partner.form_kinds:
            path = mapping_path(partner.country, kind, base)
            if not path.exists():
                problems.append(
                    f"{path}: missing; {partners_file} gives {partner.country} a {kind} form "
                    f"(forms.{kind}) but there is no mapping for it. Create it with "
                    f"`make map-form FORM={partner.form_id(kind)} COUNTRY={partner.country} "
                    f"KIND={kind}` (docs/mapping.md), or remove forms.{kind} of "
                    f"{partner.country} from partners.yaml"
                )
                continue
            try:
                load_mapping(partner.country, kind, base)
            except ConfigError as exc:
                problems.append(str(exc))
    configured = {p.country: p for p in partners.partners}
    for path in sorted((base / "mappings").glob("*.yaml")):
        match = _MAPPING_NAME.match(path.name)
        if match is None or match["kind"] not in FORM_KINDS:
            problems.append(
                f"{path}: not a mapping file name; name it <cc>_<kind>.yaml with kind one of "
                f"{', '.join(FORM_KINDS)} (e.g. no_monthly.yaml), or move it out of mappings/"
            )
            continue
        country, kind = match["country"].upper(), match["kind"]
        partner = configured.get(country)
        if partner is None:
            problems.append(
                f"{path}: mapping for country {country}, which is not in {partners_file}; "
                "add the partner there, or delete this file (a removed country's history "
                "stays in the warehouse)"
            )
        elif not partner.has_form(kind):
            problems.append(
                f"{path}: mapping for {country}'s {kind} form, but {partners_file} gives "
                f"{country} no forms.{kind}; add the form id there, or delete this file"
            )
    return problems


def check_config_files(partners: PartnersConfig, config_dir: Path | None = None) -> None:
    """Raise one ConfigError listing every cross-file problem (see ``config_problems``)."""
    problems = config_problems(partners, config_dir)
    if problems:
        raise ConfigError(
            "configuration files do not fit together:\n" + "\n".join(f"- {p}" for p in problems)
        )
