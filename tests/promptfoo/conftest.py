from tests.promptfoo.standins import install

install()
