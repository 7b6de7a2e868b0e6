from tiro.plugins.karez import TiroPreprocessConverter as Converter
