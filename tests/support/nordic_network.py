"""A network grown by configuration only: the sample's countries plus Norway and Denmark.

``build_nordic_network(tmp)`` writes, into ``tmp``, what a data person writes when two
partners join: a config folder (partners.yaml with two more entries, their mapping files)
and Forms API emulator data for every form. Norway's and Denmark's forms are their own:
question ids, titles and option labels in Norwegian (bokmål) and Danish that appear
nowhere in the project; Denmark has no self-assessment form. Nothing in bsin changes.

The two partners' reports are in their own languages (``REPORT_LANGUAGE``: Norwegian
Bokmål and Danish, include/templates/i18n/nb.yaml and da.yaml), languages none of the four
sample countries uses.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from bsin.core.paths import config_dir

#: Report languages of the two new partners (switch to {"NO": "nb", "DK": "da"} once the
#: nb/da report catalogues exist).
REPORT_LANGUAGE: dict[str, str] = {"NO": "nb", "DK": "da"}

NEW_PARTNERS: list[dict[str, Any]] = [
    {
        "country": "NO",
        "name": "Norway",
        "organisation": "Sosialt Entreprenørskap Norge",
        "form_language": "nb",
        "report_language": REPORT_LANGUAGE["NO"],
        "timezone": "Europe/Oslo",
        "recipients": ["rapport@sen.example.org"],
        "active_members": 6,
        "forms": {
            "monthly": "1NoRwEgIaNmOnThLyFoRm0000000000000000000000",
            "self_assessment": "1NoRwEgIaNsElFaSsEsSmEnT000000000000000000",
        },
    },
    {
        "country": "DK",
        "name": "Denmark",
        "organisation": "Socialøkonomisk Netværk Danmark",
        "form_language": "da",
        "report_language": REPORT_LANGUAGE["DK"],
        "timezone": "Europe/Copenhagen",
        "recipients": ["rapport@sond.example.org", "bestyrelse@sond.example.org"],
        "active_members": 5,
        # Denmark collects no self-assessment: the key is simply absent.
        "forms": {"monthly": "1DaNmArKmOnThLyFoRm00000000000000000000000"},
    },
]

NORDIC_TEXTS: dict[str, dict[str, Any]] = {
    "nb": {
        "monthly": {
            "title": "Baltic Sea Impact Network – månedlig tilbakemelding",
            "description": "Fortell oss hvordan måneden i nettverket har vært.",
            "section": "Kontakter og utfordringer",
            "feedback_month": ("Hvilken måned gjelder tilbakemeldingen?", "Velg en dag i måneden."),
            "attended_peer_session": (
                "Var du med på månedens erfaringssamling?",
                {"Ja, jeg var med": True, "Nei, ikke denne gangen": False},
            ),
            "attended_workshop": (
                "Deltok du på et fagverksted denne måneden?",
                {"Ja, jeg deltok": True, "Nei, jeg deltok ikke": False},
            ),
            "satisfaction": (
                "Hvor fornøyd er du med månedens program?",
                ("Misfornøyd", "Svært fornøyd"),
            ),
            "relevance": (
                "Hvor nyttige var månedens temaer for deg?",
                ("Ikke nyttige", "Svært nyttige"),
            ),
            "recommend": (
                "Hvor sannsynlig er det at du anbefaler nettverket til en annen gründer?",
                ("Slett ikke", "Helt sikkert"),
            ),
            "new_skill": (
                "Har du lært noe nytt du kan bruke i virksomheten?",
                {"Ja, absolutt": "yes", "Litt": "partly", "Nei, dessverre": "no"},
            ),
            "new_connections_abroad": "Hvor mange nye kontakter i utlandet fikk du denne måneden?",
            "stakeholder_access": (
                "Har nettverket gitt deg kontakt med noen av disse?",
                {
                    "Stat eller kommune": "public_sector",
                    "Næringslivet": "corporate",
                    "Sosiale investorer": "impact_investor",
                    "Presse": "media",
                    "Ingen av disse": "none",
                },
            ),
            "challenges": (
                "Hva er dine største utfordringer nå?",
                {
                    "Kapital": "funding",
                    "Å bli sett": "visibility",
                    "Tid og kapasitet": "capacity",
                    "Ansatte": "team",
                    "Regelverk": "policy",
                },
            ),
            "suggestion": "Hva bør nettverket gjøre annerledes?",
        },
        "self_assessment": {
            "title": "Baltic Sea Impact Network – egenvurdering",
            "description": "Svarene hjelper oss å tilpasse programmet.",
            "wave": (
                "Når fyller du ut egenvurderingen?",
                {"Ved oppstart": "baseline", "Ved avslutning": "endline"},
            ),
            "needs": "Hvor trenger du mest støtte?",
            "capability": "Hvordan vurderer du egen kompetanse på hvert område? (1 = lav, 5 = høy)",
            "interests": "Hva vil du lære, og hvem vil du møte?",
            "areas": (
                "Tilgang til kapital",
                "Synlighet i markedet",
                "Måling av samfunnseffekt",
                "Vekst",
                "Offentlige anskaffelser",
                "Samarbeid med næringslivet",
                "Investorklar",
                "Ledelse av team",
            ),
        },
        "other_challenges": ["Finne lokaler", "For lite tid"],
        "suggestions": ["Mer tid til spørsmål.", "Flere eksempler fra Danmark.", "Bra måned!"],
        "interests": ["Effektmåling og investorer.", "Samarbeid med kommuner."],
        "names": [
            ("Ingrid", "Haugen"),
            ("Ola", "Bakken"),
            ("Kari", "Solberg"),
            ("Nils", "Åsheim"),
            ("Sigrid", "Lie"),
            ("Håkon", "Moen"),
        ],
    },
    "da": {
        "monthly": {
            "title": "Baltic Sea Impact Network – månedlig feedback",
            "description": "Fortæl os, hvordan måneden i netværket gik.",
            "section": "Kontakter og udfordringer",
            "feedback_month": ("Hvilken måned handler din feedback om?", "Vælg en dag i måneden."),
            "attended_peer_session": (
                "Deltog du i månedens netværksmøde?",
                {"Ja tak": True, "Nej tak": False},
            ),
            "attended_workshop": (
                "Var du til en ekspertworkshop i denne måned?",
                {"Ja, det var jeg": True, "Nej, det var jeg ikke": False},
            ),
            "satisfaction": (
                "Hvor tilfreds er du med månedens forløb?",
                ("Utilfreds", "Meget tilfreds"),
            ),
            "relevance": (
                "Hvor relevante var månedens emner for dig?",
                ("Irrelevante", "Meget relevante"),
            ),
            "recommend": (
                "Hvor sandsynligt er det, at du vil anbefale netværket til andre?",
                ("Usandsynligt", "Meget sandsynligt"),
            ),
            "new_skill": (
                "Har du fået ny viden, du kan bruge?",
                {"Ja, i høj grad": "yes", "Til dels": "partly", "Slet ikke": "no"},
            ),
            "new_connections_abroad": "Hvor mange nye udenlandske kontakter fik du i denne måned?",
            "stakeholder_access": (
                "Har netværket bragt dig i kontakt med nogen af disse?",
                {
                    "Det offentlige": "public_sector",
                    "Virksomheder": "corporate",
                    "Impact-investorer": "impact_investor",
                    "Medierne": "media",
                    "Ingen af dem": "none",
                },
            ),
            "challenges": (
                "Hvilke udfordringer har du lige nu?",
                {
                    "Finansiering af driften": "funding",
                    "Synlighed": "visibility",
                    "Kapacitet": "capacity",
                    "Medarbejdere": "team",
                    "Lovgivning": "policy",
                },
            ),
            "suggestion": "Hvad bør netværket ændre?",
        },
        "self_assessment": NotImplemented,  # Denmark has no self-assessment form
        "other_challenges": ["Lokaler", "Tid"],
        "suggestions": ["Flere fysiske møder.", "Del materialet tidligere.", "God måned!"],
        "interests": ["Impact-måling."],
        "names": [
            ("Mette", "Kjær"),
            ("Søren", "Østergaard"),
            ("Freja", "Mølgaard"),
            ("Rasmus", "Brøndum"),
            ("Line", "Juhl"),
        ],
    },
}


def build_nordic_network(tmp: Path, monkeypatch) -> tuple[Path, Path]:
    """Write config and emulator data of the grown network under ``tmp``; return both folders.

    ``monkeypatch`` lends the generator the Norwegian and Danish form texts for this test
    only (a real partner's form comes from Google Forms, not from the generator).
    """
    from bsin_dev import sample_texts
    from bsin_dev.sample_data import generate_sample

    cfg = tmp / "config"
    shutil.copytree(config_dir(), cfg)
    data = yaml.safe_load((cfg / "partners.yaml").read_text(encoding="utf-8"))
    data["partners"].extend(NEW_PARTNERS)
    (cfg / "partners.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    for language, texts in NORDIC_TEXTS.items():
        monkeypatch.setitem(sample_texts.TEXTS, language, texts)
    emulator = tmp / "emulator"
    generate_sample(emulator, cfg / "mappings", cfg)
    return cfg, emulator
