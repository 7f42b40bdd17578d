"""The console in a real browser against a real `switchboard serve`: sign in, ask in the Slack
sandbox, approve in the Discord sandbox, see the answer in Slack, and a late click told who won;
a rollback two people approve, one on Discord and one by SMS, each copy showing how far it is."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.server import PEOPLE, Server, running_server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (`make test` installs it)",
    ),
]
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
# Set SWITCHBOARD_SCREENSHOTS=/some/dir to keep pictures of the pages the scenario passes through.
SHOTS = os.environ.get("SWITCHBOARD_SCREENSHOTS")

expect.set_options(timeout=15_000)  # a slow CI machine; each expect returns as soon as it holds


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="module")
def erin_by_sms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose directory is the demo's, but Erin is asked by SMS first: a text reply
    answers only a request whose copy was texted to her."""
    directory = tmp_path_factory.mktemp("serve-sms")
    demo = PEOPLE.read_text()
    erin = 'channels = ["discord", "sms"]'
    assert demo.count(erin) == 1, "the demo directory changed: Erin's channels are not found"
    people = directory / "people.toml"
    people.write_text(demo.replace(erin, 'channels = ["sms", "discord"]'))
    with running_server(directory, SWITCHBOARD_PEOPLE=str(people)) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def screenshot(page: Page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=True)


async def open_sandbox(page: Page, channel: str) -> None:
    await (
        page.get_by_role("navigation", name="Channels")
        .get_by_role("link", name=re.compile(f"^{channel}"))
        .click()
    )
    await expect(page.get_by_text(f"{channel} is in sandbox mode")).to_be_visible()


async def open_conversation(page: Page, title: str) -> None:
    """Click the conversation in the list. The list is a polled panel, swapped whole when what
    it shows changes (a copy sent, a time moving on): a click that lands as it is swapped is
    lost, as a person's would be, and is made again, as a person would."""
    link = (
        page.get_by_role("navigation", name="Conversations")
        .get_by_role("link", name=re.compile(title))
        .first
    )
    opened = re.compile(r"[?&]c=")
    for _ in range(2):
        await link.click()
        try:
            await expect(page).to_have_url(opened, timeout=5000)
            return
        except AssertionError:
            continue
    await link.click()
    await expect(page).to_have_url(opened)


async def act_as(page: Page, person: str) -> None:
    """Pick who the sandbox speaks for; the page reloads with them in its address."""
    await page.get_by_label("Acting as").select_option(person)
    await expect(page).to_have_url(re.compile(rf"[?&]as={person}\b"))


async def bob_asks(page: Page, server: Server, text: str) -> None:
    """Bob writes `text` to the deploy bot in a new Slack conversation, in the sandbox."""
    await page.goto(f"{server.url}/sandbox/slack?as=bob")
    await page.get_by_label("Message").fill(text)
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".flash")).to_contain_text("Started")


async def test_asked_in_slack_approved_in_discord_and_a_late_click_is_told_who_won(
    server: Server, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()

    await page.goto(f"{server.url}/login?token={server.token}")
    await expect(page).to_have_url(f"{server.url}/")
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()

    # Bob asks the deploy bot in a new Slack conversation.
    await page.get_by_role("link", name="Sandbox", exact=True).click()
    await expect(page.get_by_text("Slack is in sandbox mode")).to_be_visible()
    await act_as(page, "bob")
    await page.get_by_label("Message").fill("deploy api 2.4.1 to production")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".flash")).to_contain_text("Started new deploy thread")
    conversation = page.locator("#messages")
    await expect(conversation).to_contain_text("deploy api 2.4.1 to production")

    # The approval waits in the inbox, sent to both approvers on Discord.
    await page.get_by_role("link", name=re.compile(r"^Inbox")).click()
    request = page.get_by_role("article", name=re.compile("Request req-"))
    await expect(request).to_contain_text("Approve deploy")
    await expect(request.locator(".copies li")).to_have_count(2)
    await expect(request).to_contain_text("Alice Example")
    await expect(request).to_contain_text("Erin Example")
    await screenshot(page, "inbox")

    # Alice approves from her Discord DM.
    await page.get_by_role("link", name="Sandbox", exact=True).click()
    await open_sandbox(page, "Discord")
    await act_as(page, "alice")
    await open_conversation(page, "Alice Example · direct messages")
    await expect(conversation).to_contain_text("Approve deploy")
    await screenshot(page, "sandbox-discord-request")
    await conversation.get_by_role("button", name="Approve").click()
    await expect(page.locator(".flash")).to_contain_text("answer to req-")
    await expect(conversation).to_contain_text("Approved by Alice Example via discord")
    await expect(conversation.get_by_role("button", name="Approve")).to_have_count(0)

    # The bot's answer arrives in Bob's Slack thread without a reload.
    await open_sandbox(page, "Slack")
    await act_as(page, "bob")
    await open_conversation(page, "^Bob Example")
    await expect(conversation).to_contain_text("Deployed api 2.4.1 to production")
    await screenshot(page, "sandbox-slack")

    # Erin's copy was updated too; a click on its stale button is told it was already approved.
    await open_sandbox(page, "Discord")
    await act_as(page, "erin")
    await open_conversation(page, "Erin Example · direct messages")
    await expect(conversation).to_contain_text("Approved by Alice Example via discord")
    await conversation.get_by_text("Press an old button").click()
    await conversation.get_by_role("button", name="Approve").click()
    flash = page.locator(".flash")
    await expect(flash).to_contain_text("Refused")
    await expect(flash).to_contain_text(re.compile(r"Already settled: Approved by Alice"))
    await expect(conversation).to_contain_text("Already settled: Approved by Alice")
    await screenshot(page, "sandbox-discord-late")
    await context.close()


async def test_the_inbox_refuses_someone_who_is_not_asked_and_takes_an_approver(
    server: Server, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    await page.goto(f"{server.url}/login?token={server.token}")

    await bob_asks(page, server, "deploy web 1.8.0 to production")

    await page.get_by_role("link", name=re.compile(r"^Inbox")).click()
    card = page.get_by_role("article").filter(has_text="service web")
    await card.get_by_label("Answer on behalf of").select_option("bob")
    await card.get_by_role("button", name="Approve").click()
    await expect(card.get_by_role("alert")).to_contain_text("bob may not answer")

    await card.get_by_label("Answer on behalf of").select_option("erin")
    await card.get_by_label("Reason").fill("release freeze until Monday")
    await card.get_by_role("button", name="Reject").click()
    await expect(card).to_contain_text("Rejected by operator on behalf of Erin Example via console")

    await card.get_by_role("link", name=re.compile("^th-")).click()
    timeline = page.locator("#thread")
    await expect(timeline).to_contain_text("operator on behalf of erin via console rejected")
    await expect(timeline).to_contain_text("Not deployed: erin rejected it")
    await screenshot(page, "thread")
    await context.close()


async def test_pages_without_the_cookie_go_to_sign_in(server: Server, browser: Browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    for path in ("/", "/threads", "/sandbox/slack"):
        await page.goto(server.url + path)
        await expect(page).to_have_url(re.compile(r"/login"))
        await expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()

    await page.get_by_label("API token").fill("not-the-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not the one this server uses")

    await page.get_by_label("API token").fill(server.token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{server.url}/sandbox/slack")
    await context.close()


async def test_a_rollback_two_people_approve_alice_on_discord_and_erin_by_sms(
    erin_by_sms: Server, browser: Browser
) -> None:
    server = erin_by_sms
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    await page.goto(f"{server.url}/login?token={server.token}")
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()

    # Bob asks the deploy bot in Slack to roll back; the rollback needs two approvers.
    await page.get_by_role("link", name="Sandbox", exact=True).click()
    await expect(page.get_by_text("Slack is in sandbox mode")).to_be_visible()
    await act_as(page, "bob")
    await page.get_by_label("Message").fill("roll back api in production to 2.4.0")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".flash")).to_contain_text("Started new deploy thread")

    # It waits in the inbox for two of them: sent to Alice on Discord and to Erin by SMS.
    await page.get_by_role("link", name=re.compile(r"^Inbox")).click()
    request = page.get_by_role("article", name=re.compile("Request req-"))
    await expect(request).to_contain_text("rollback")
    await expect(request).to_contain_text("2 different people must approve")
    copies = request.locator(".copies li")
    await expect(copies).to_have_count(2)
    await expect(copies.filter(has_text="Alice Example")).to_contain_text(
        re.compile(r"Discord\s+Alice Example\s+100000000000000001")
    )
    await expect(copies.filter(has_text="Erin Example")).to_contain_text(
        re.compile(r"SMS\s+Erin Example\s+\+15550100005")
    )
    await screenshot(page, "quorum-inbox")

    # Alice's Discord copy: the buttons, and who may decide (not Bob, who asked).
    conversation = page.locator("#messages")
    await page.get_by_role("link", name="Sandbox", exact=True).click()
    await open_sandbox(page, "Discord")
    await act_as(page, "alice")
    await open_conversation(page, "Alice Example · direct messages")
    await expect(conversation).to_contain_text("Who may decide")
    await expect(conversation).to_contain_text("not Bob Example, who asked")
    await expect(conversation.get_by_role("button", name="Approve")).to_have_count(1)
    await expect(conversation.get_by_role("button", name="Reject")).to_have_count(1)
    await screenshot(page, "quorum-discord-request")

    # She approves: her copy says how far it is, and asks her nothing more.
    await conversation.get_by_role("button", name="Approve").click()
    await expect(page.locator(".flash")).to_contain_text("Alice Example's answer to req-")
    progress = "1 of 2: approved by Alice Example via discord; waiting for one more"
    await expect(conversation).to_contain_text(progress)
    await expect(conversation).to_contain_text("Waiting for more approvals")
    await expect(conversation.get_by_role("button", name="Approve")).to_have_count(0)
    await expect(conversation.get_by_role("button", name="Reject")).to_have_count(0)
    await screenshot(page, "quorum-discord-progress")

    # Erin's texts: the request, then (a text cannot be edited) a further one with the progress.
    await open_sandbox(page, "SMS")
    await act_as(page, "erin")
    await open_conversation(page, "^Erin Example")
    texts = conversation.locator(".sms-msg.sms-theirs")
    await expect(texts.first).to_contain_text("Approve roll api in production back to 2.4.0")
    await expect(texts.first).to_contain_text("Reply YES")
    await expect(texts.first).not_to_contain_text(progress)
    await expect(texts.last).to_contain_text(progress)
    await expect(texts.filter(has_text=progress)).to_have_count(1)
    await screenshot(page, "quorum-sms-progress")

    # She answers YES with the code the text asks for.
    instruction = await texts.filter(has_text="Reply YES").last.inner_text()
    code = re.search(r"Reply YES (\d+) to approve", instruction)
    assert code is not None, instruction
    await page.get_by_label("Message").fill(f"YES {code[1]}")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".flash")).to_contain_text("Erin Example's answer to req-")
    approved = re.compile(
        r"Approved by Alice Example via discord and Erin Example via sms, \d\d:\d\d UTC"
    )
    await expect(conversation).to_contain_text(approved)
    await expect(conversation.get_by_text(approved)).to_have_count(1)  # one text, as sent
    await screenshot(page, "quorum-sms-approved")

    # Alice's copy says so too.
    await open_sandbox(page, "Discord")
    await act_as(page, "alice")
    await open_conversation(page, "Alice Example · direct messages")
    await expect(conversation).to_contain_text(approved)
    await expect(conversation.get_by_role("button", name="Approve")).to_have_count(0)
    await screenshot(page, "quorum-discord-approved")

    # The rollback ran once both had approved: Bob has the bot's reply in Slack.
    await open_sandbox(page, "Slack")
    await act_as(page, "bob")
    await open_conversation(page, "^Bob Example")
    await expect(conversation).to_contain_text("Rolled api in production back to 2.4.0")
    await screenshot(page, "quorum-slack")

    # The thread's timeline has both approvals, each with where it was given.
    await page.get_by_role("link", name=re.compile(r"^Inbox")).click()
    settled = page.get_by_role("row").filter(
        has_text="Approve roll api in production back to 2.4.0"
    )
    await expect(settled).to_contain_text("by Alice Example via discord and Erin Example via sms")
    await settled.get_by_role("link", name=re.compile("^th-")).click()
    timeline = page.locator("#thread")
    await expect(timeline).to_contain_text(
        "Approved by Alice Example via Discord and Erin Example via SMS"
    )
    await expect(timeline).to_contain_text("alice via discord approved")
    await expect(timeline).to_contain_text("erin via sms approved")
    await expect(timeline).to_contain_text("Rolled api in production back to 2.4.0")
    await screenshot(page, "quorum-thread")
    await context.close()


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(n) for n in re.findall(r"[\d.]+", css)[:3])


def contrast(foreground: str, background: str) -> float:
    """WCAG's contrast ratio of two computed colours ("rgb(r, g, b)")."""

    def luminance(css: str) -> float:
        linear = [c / 255 for c in _rgb(css)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in linear)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# The colour a text is drawn in, and the first opaque background behind it.
COLOURS = """e => {
  let at = e, background = "rgba(0, 0, 0, 0)";
  while (at && /rgba\\(.*, 0\\)$|transparent/.test(background)) {
    background = getComputedStyle(at).backgroundColor; at = at.parentElement;
  }
  return [getComputedStyle(e).color, background];
}"""


async def test_the_console_fits_a_phone_and_an_empty_conversation_is_readable(
    server: Server, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(f"{server.url}/login?token={server.token}")
    await bob_asks(page, server, "deploy web 1.8.0 to production")
    await expect(page.locator("#inbox-count")).not_to_have_text("")  # its approval waits
    thread = await page.locator(".flash a.mono").first.get_attribute("href")
    assert thread and thread.startswith("/threads/th-")

    for path, heading in (
        ("/", "Inbox"),
        ("/threads", "Threads"),
        (thread, "deploy web 1.8.0 to production"),
        ("/sandbox/slack", None),
        ("/sandbox/discord", None),
    ):
        await page.goto(server.url + path)
        await expect(page.get_by_role("navigation", name="Console")).to_be_visible()
        if heading:
            await expect(page.get_by_role("heading", level=1).first).to_contain_text(heading)
        wide = await page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"{path} is {wide} px wide at 390"
        await screenshot(page, f"phone{path.replace('/', '-')}")

    # Discord's empty conversation: light words on its dark, readable (WCAG AA, 4.5:1).
    await page.goto(f"{server.url}/sandbox/discord")
    empty = page.locator("#messages .empty")
    await expect(empty).to_contain_text("New conversation")
    for part in ("h2", "p", "p strong"):
        color, background = await empty.locator(part).first.evaluate(COLOURS)
        ratio = contrast(color, background)
        assert ratio >= 4.5, f"{part}: {color} on {background} is {ratio:.2f}:1"
    await context.close()


async def test_the_inbox_count_changes_without_a_reload(server: Server, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    watching = await context.new_page()
    await watching.goto(f"{server.url}/login?token={server.token}")
    await watching.goto(f"{server.url}/threads")
    count = watching.locator("#inbox-count")
    before = int((await count.inner_text()).strip() or 0)
    await watching.evaluate("window.stayed = true")  # gone if the page were loaded again

    # Bob asks in another tab; the approval it needs is counted in the first tab's header.
    asking = await context.new_page()
    await bob_asks(asking, server, "roll back api in production to 2.4.0")

    await expect(count).to_have_text(str(before + 1))
    assert await watching.evaluate("window.stayed === true")
    assert watching.url == f"{server.url}/threads"
    await context.close()


async def test_bob_hears_who_was_asked_and_alice_signs_in_by_a_link_sent_to_her(
    server: Server, browser: Browser
) -> None:
    """The requester's waiting notice in his own Slack conversation; then Alice, with no token,
    asks for a sign-in link, finds it in her Discord DMs, and approves as herself."""
    operator = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await operator.new_page()
    await page.goto(f"{server.url}/login?token={server.token}")
    await bob_asks(page, server, "deploy api 2.4.0 to production")
    conversation = page.locator("#messages")
    await expect(conversation).to_contain_text(
        re.compile(r"I have asked Alice Example or Erin Example on Discord to approve deploy api"
                   r" 2\.4\.0 to production\. If no one decides by")
    )  # fmt: skip
    await screenshot(page, "requester-notice")

    alice = await browser.new_context(viewport={"width": 1280, "height": 900})
    her = await alice.new_page()
    await her.goto(f"{server.url}/")
    await expect(her).to_have_url(re.compile(r"/login"))
    await her.get_by_label("Your id, or your address").fill("alice@example.com")
    await her.get_by_role("button", name="Send me a sign-in link").click()
    await expect(her.get_by_role("status")).to_contain_text("a sign-in link is on its way")

    # The link reached her preferred channel: her Discord DMs, as the sandbox shows them.
    await open_sandbox(page, "Discord")
    await act_as(page, "alice")
    await open_conversation(page, "Alice Example · direct messages")
    sent = conversation.locator(".discord-text").filter(has_text="Your sign-in link").last
    await expect(sent).to_be_visible()
    found = re.search(r"/login/link\?code=[\w-]+", await sent.inner_text())
    assert found is not None

    await her.goto(server.url + found[0])
    await expect(her.get_by_text("Signed in as Alice Example")).to_be_visible()
    card = her.get_by_role("article").filter(has_text="Approve deploy api 2.4.0 to production")
    await expect(card).to_contain_text("You answer as Alice Example")
    await expect(card.get_by_label("Answer on behalf of")).to_have_count(0)  # herself only
    await card.get_by_role("button", name="Approve").click()
    await expect(card).to_contain_text("Approved by Alice Example via console")
    await screenshot(her, "signed-in-as-alice")
    await her.goto(server.url + found[0])  # a link works once
    await expect(her.get_by_role("alert")).to_contain_text("used, expired or unknown")
    await alice.close()
    await operator.close()
