"""keyguard: finds FluxLoop API keys in git and keeps the keys that exist healthy.

The package follows the data flow: ``sources`` (where bytes come from) ->
``detect`` (rules and filters) -> ``model.Finding`` -> ``fluxloop`` (verify,
revoke, hygiene through the API) and ``report`` (text, JSON, SARIF, Markdown).
``cli`` and ``commands`` only wire these together.
"""

__version__ = "0.1.0"
