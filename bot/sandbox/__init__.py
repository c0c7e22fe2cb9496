"""Where repository code runs: a bubblewrap sandbox (:mod:`bot.sandbox.bwrap`), fed the
candidate tree by value (:mod:`bot.sandbox.tree`), run in-process or by the secretless
``sandbox`` worker role (:mod:`bot.sandbox.role`). Nothing weaker is ever used instead: where
bubblewrap cannot isolate, the command is not run and the reason says why."""
