"""One cog per feature of the Discord front-end (loaded by :func:`bot.discord.tree.load_cogs`)."""
