"""`/assist fix`: from an issue to a checked change.

The core is pure: SEARCH/REPLACE edit application (:mod:`bot.fix.edits`), the path policy
(:mod:`bot.fix.paths`), the checks of a changed file (:mod:`bot.fix.checks`), candidate ranking
for localisation (:mod:`bot.fix.localise`), prompts and answers (:mod:`bot.fix.prompt`,
:mod:`bot.fix.answers`), the pipeline over protocols (:mod:`bot.fix.pipeline`) and the texts
posted (:mod:`bot.fix.render`). I/O sits at the edges: the git working copy
(:mod:`bot.fix.workspace`), the test sandbox (:mod:`bot.fix.sandbox`), the repository index
(:mod:`bot.fix.retrieval`), the fix on a forge (:mod:`bot.fix.service`) and the CLI
(:mod:`bot.fix.local`).
"""
