"""Every English string the widget shows, in one place for translation.

The panel's template reads them as ``t.key``; its script gets the same dictionary as JSON.
``{name}`` placeholders are filled in by the caller.
"""

from __future__ import annotations

STRINGS: dict[str, str] = {
    # launcher and panel chrome (widget.js gets launcher_label / frame_title)
    "launcher_label": "Help",
    "frame_title": "Practice Helpdesk help panel",
    "panel_title": "Help",
    "close": "Close help",
    "back": "Back",
    "nav_label": "Help sections",
    "nav_home": "Home",
    "nav_check": "Check a booking",
    "nav_chat": "Chat",
    "nav_request": "Submit a request",
    "nav_mine": "My requests",
    "unread": "{count} unread",
    # home
    "greeting": "Hello {name}, how can we help?",
    "greeting_anonymous": "How can we help?",
    "signing_in": "Signing you in…",
    "search_label": "Search the Help Center",
    "search_placeholder": "Search, e.g. booking not in the diary",
    "search_results": "Results",
    "search_none": "No articles match. Try other words, or ask us in a chat.",
    "search_count": "{count} articles found",
    "suggested": "Suggested for you",
    "for_this_page": "For this page",
    # incident banner and today's bookings at risk (helpdesk.bookings)
    "incident_open": "{title}. We are on it: since {since} ({tz}).",
    "incident_resolved": "Resolved at {resolved} ({tz}): {title}. Bookings made during it may need a hand transfer.",
    "at_risk_title_one": "1 booking today is not safely in your diary",
    "at_risk_title": "{count} bookings today are not safely in your diary",
    "at_risk_row": "{time} {reference}: {summary}",
    "banner_connector_offline": "Your booking connector has been offline since {since}. Bookings made since then are not reaching your diary.",
    "banner_collisions": "{count} booking collisions in the last {days} days: those bookings did not reach your diary.",
    "banner_collisions_one": "1 booking collision in the last {days} days: that booking did not reach your diary.",
    "banner_bouncing": "Booking emails to {address} are bouncing (last bounce {since}).",
    "banner_no_booking_email": "No booking email address is set: you are not emailed about new bookings.",
    "banner_alerts_off": "Some alert emails are turned off: you may not hear when a booking fails to reach your diary.",
    "banner_read": "Read: {title}",
    "banner_reference": "You were looking at booking {reference}.",
    "banner_check_it": "Check booking {reference}",
    # articles
    "article_loading": "Loading the article…",
    "article_helpful": "Was this article helpful?",
    "vote_yes": "Yes",
    "vote_no": "No",
    "vote_thanks": "Thank you for your feedback.",
    "votes_tally": "{up} of {total} found this helpful",
    "follow": "Follow",
    "unfollow": "Unfollow",
    "following": "You are following this article: we will email you when it changes.",
    "not_following": "You no longer follow this article.",
    "open_in_help_center": "Open in the Help Center",
    # check a booking
    "check_title": "Check a booking",
    "check_intro": "Type a booking reference or a patient's name to see how the booking reached you and what to do.",
    "check_label": "Booking reference or patient name",
    "check_submit": "Check",
    "check_none": "No booking of your practice matches “{q}”.",
    "check_pick": "Which booking? {count} match:",
    "check_loading": "Checking…",
    "ways_title": "The three ways",
    "way_bookings_list": "Bookings list",
    "way_email": "Booking email",
    "way_diary": "Diary",
    "way_sidebar": "Sidebar",
    "way_received": "received",
    "way_missed": "not received",
    "alerted_title": "Were you alerted?",
    "alerted_item": "{kind} alert to {recipient}, {at}",
    "alerted_none_disabled": "No: this kind of alert email is turned off in your notification settings.",
    "alerted_none_missing": "No alert email is on record although your settings allow it. We will look into it.",
    "alerted_not_needed": "No alert was needed.",
    "next_steps": "What to do now",
    "read_more": "Articles that help",
    "ask_about_booking": "Ask us about this booking",
    "appointment": "Appointment: {when} with {practitioner} ({type}). Patient: {patient}.",
    # chat
    "chat_title": "Chat with support",
    "chat_loading": "Opening the chat…",
    # requests
    "request_title": "Submit a request",
    "request_subject": "Subject",
    "request_description": "Description",
    "request_reference": "Booking reference (optional)",
    "request_email": "Your email",
    "request_submit": "Submit request",
    "request_suggest": "These articles may answer it:",
    "request_sent": "Thank you: your request #{id} was received. We will reply by email and in My requests.",
    "mine_title": "My requests",
    "mine_none": "You have no requests yet.",
    "mine_loading": "Loading your requests…",
    "mine_open": "Open and reply (new tab)",
    "status_new": "New",
    "status_open": "Open",
    "status_pending": "Awaiting your reply",
    "status_solved": "Solved",
    "status_closed": "Closed",
    # errors
    "error_generic": "Something went wrong. Please try again.",
    "error_offline": "You seem to be offline. We will retry when you are back.",
    "error_signed_out": "Your session has ended. Reload the page to sign in again.",
}


def t(key: str, **values: object) -> str:
    text = STRINGS[key]
    return text.format(**values) if values else text
