"""The write path's stages inside the application: each line translated (``translating``), each
batch through the risk door (``door``), then decided, committed and projected (``committing``),
called in that order by ``recording``; and what placing an order answers (``place_answer``)."""
