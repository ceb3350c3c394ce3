"""The Discord front-end: markdown and embed formatting (:mod:`bot.discord.format`), the outbox
notifier (:mod:`bot.discord.notifier`), and the slash-command bot (:mod:`bot.discord.bot`)."""
