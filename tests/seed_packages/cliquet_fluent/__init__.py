"""The seed's custom log renderer (chosen by ``cliquet.logging_renderer``)."""

import json


class FluentRenderer:
    def __init__(self, settings):
        self.tag = settings.get("cliquet.project_name") or "cliquet"

    def __call__(self, logger, name, event_dict):
        fields = {k: v for k, v in event_dict.items() if k not in ("timestamp", "level")}
        return f"fluent {self.tag}.{name} " + json.dumps(fields, sort_keys=True, default=str)
