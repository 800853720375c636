"""The offline Telegram: one fake Bot API core (`fake_telegram`) with two doors into it.

`fake_request.FakeRequest` serves PTB in-process (tests); `fake_http.FakeTelegramServer` serves it
over HTTP (the sandbox page, benchmarks, tests that run the bot as its own process).
"""
