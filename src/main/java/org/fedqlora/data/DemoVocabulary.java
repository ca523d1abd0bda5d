package org.fedqlora.data;

import java.util.List;

/**
 * Word lists and templates of the synthetic support-ticket demo data ({@link DemoData}). The class of a message is
 * (product area, request type); areas share the templates, request types share the vocabulary, so neither a noun
 * nor a phrase alone gives the label away.
 */
final class DemoVocabulary {
    private DemoVocabulary() {
    }

    /**
     * One product area.
     *
     * @param name     label prefix
     * @param nouns    things of the area, used after "my"/"the"
     * @param problems complete clauses reporting something wrong
     * @param risks    present-tense events, asked about hypothetically or reported as happening
     * @param actions  things a customer may want to do, after "how do I" / "I tried to"
     */
    record Area(String name, List<String> nouns, List<String> problems, List<String> risks, List<String> actions) {
    }

    /** In alphabetical order, so that the label names (area_request) are sorted like a {@link LabelMap}. */
    static final List<Area> AREAS = List.of(
            new Area("account",
                    List.of("password", "login", "account", "email address", "username", "two-factor code",
                            "profile", "security question", "account settings", "sign-in"),
                    List.of("I got locked out after one wrong attempt", "the password reset link has expired again",
                            "the two-factor code never arrives", "it says my email is already in use",
                            "the site logs me out every few minutes", "someone changed my password without me",
                            "my profile still shows another person's name"),
                    List.of("I forget my password", "someone else logs into my account",
                            "I lose the phone with my two-factor app", "my email address changes",
                            "the account stays inactive for a year"),
                    List.of("change the email on my account", "turn on two-factor authentication",
                            "merge my two accounts", "delete my account", "change my username",
                            "add a second user to my account", "reset my password")),
            new Area("app",
                    List.of("app", "mobile app", "latest update", "notification settings", "dashboard",
                            "sync", "dark mode", "home screen widget", "website", "desktop version"),
                    List.of("the app crashes as soon as I open it", "the app still freezes on the loading screen",
                            "the dashboard shows a blank page", "sync stopped working after the update",
                            "the app drains my battery in an hour", "I get every notification three times",
                            "the buttons never do anything on my tablet"),
                    List.of("the app stops syncing", "I install the update on an old phone",
                            "my phone runs out of storage", "I use the app with no internet",
                            "the website is down for maintenance"),
                    List.of("turn on dark mode", "export my data from the app", "use the app offline",
                            "install the app on a tablet", "turn off notifications", "change the app language",
                            "move the widget to my home screen")),
            new Area("billing",
                    List.of("invoice", "bill", "monthly charge", "payment", "refund", "credit card", "receipt",
                            "subscription fee", "bank transfer", "discount code"),
                    List.of("I was charged twice for the same order", "the invoice shows the wrong amount",
                            "my refund has not arrived after two weeks",
                            "there is a fee on my bill that I never agreed to",
                            "the payment went through but the order says unpaid",
                            "my card keeps getting declined although it is valid",
                            "the discount code was still not applied to the total"),
                    List.of("a payment gets declined", "I get charged twice", "my card expires",
                            "the refund takes longer than usual", "the price changes mid-month"),
                    List.of("change the card I pay with", "get a copy of last month's invoice",
                            "switch to yearly billing", "pay by bank transfer", "add a VAT number to my invoices",
                            "see when the next charge happens", "ask for a refund")),
            new Area("delivery",
                    List.of("package", "parcel", "order", "shipment", "tracking number", "courier",
                            "delivery address", "box", "delivery slot", "return label"),
                    List.of("my package arrived damaged", "the parcel never showed up",
                            "my order has been stuck in transit for a week",
                            "the courier left the box at the wrong address", "one item is missing from the box",
                            "the tracking still has not updated since Monday",
                            "the delivery was marked as done but nothing came"),
                    List.of("nobody is home when the courier comes", "a parcel arrives damaged",
                            "the shipment gets lost", "I move before the order arrives",
                            "the box is too big for my mailbox"),
                    List.of("change the delivery address", "ship to another country", "pick a delivery day",
                            "track my order", "get express shipping", "send an item back",
                            "have the parcel left with a neighbour")));

    /** Request types: a report of something wrong, or a question about how to do something. */
    static final List<String> REQUESTS = List.of("problem", "question");

    /**
     * Problem templates: {P} problem clause, {R} risk, {N} noun, {A} action of the message's area; {F} failure,
     * {G} generic fault. Template i here and template i of {@link #QUESTION_TEMPLATES} are twins: mostly the same
     * words, and both often hold a problem clause and an action; which one is the request shows only in their roles.
     */
    static final List<String> PROBLEM_TEMPLATES = List.of(
            "I only wanted to {A}, and now {P}.",
            "last week I asked how to {A}. today {P}.",
            "can someone look at my {N}? {P}.",
            "I'd like to know why {P}.",
            "where can I report that {P}?",
            "it happened again: {R}, and nobody warned me.",
            "it happened: {R}. what happens now?",
            "{P}, can you fix it?",
            "how come {P}? I never had this before.",
            "why is it that {P}? this is the second time.",
            "my {N} {G}.",
            "is it possible that {P}? it happened today.",
            "what do I do now? {P}.",
            "I tried to {A} but {F}.",
            "I followed your guide to {A} and {F}.");

    /** Question templates, twins of {@link #PROBLEM_TEMPLATES}, same slots. */
    static final List<String> QUESTION_TEMPLATES = List.of(
            "{P} before, but that is fixed, and now I only want to {A}.",
            "last week {P}. today I am asking how to {A}.",
            "can someone look at my {N}? I want to {A}.",
            "I'd like to know how to {A}.",
            "where can I {A}?",
            "it has not happened, but what if {R}? nobody warned me about it.",
            "what happens if {R}? it has not happened, I am just asking.",
            "can you tell me how to {A}? {P} was fixed already.",
            "how come I never knew I can {A}? is it new?",
            "why is it so hard to {A}? this is the second time I ask.",
            "my {N} is fine, I just want to {A}.",
            "is it possible to {A}? just asking for today.",
            "what do I do to {A}? nothing happened, I just don't see the option.",
            "I tried to find how to {A} in the help pages, can you point me to it?",
            "I followed your guide to {A} and it worked. can I undo it later?");

    /** Faults that fit any noun, after "my {N}". */
    static final List<String> GENERIC_FAULTS = List.of("is not working", "shows an error", "looks wrong",
            "has been broken since yesterday", "stopped working", "is acting weird");

    /** How an attempt went wrong, after "I tried to ... but". */
    static final List<String> FAILURES = List.of("it failed", "it gave me an error", "nothing happened",
            "it just hangs", "it keeps failing", "I got a page saying something went wrong");

    /**
     * Problems that are over or not the point ({P}, {N} of any area), added to messages of other classes: the words of
     * a problem appear, but the message is not reporting it.
     */
    static final List<String> DISMISSED_PROBLEMS = List.of(
            "{P} last month, but that was fixed.",
            "Separately, {P} last week too, but that one was resolved.",
            "Earlier {P}, but your colleague solved it.",
            "My {N} is fine now, that's not the issue.",
            "This is not about my {N}.");

    /** Questions that are answered or not asked ({A}, {N} of any area), added to messages of other classes. */
    static final List<String> DISMISSED_QUESTIONS = List.of(
            "I already know how to {A}.",
            "Last week I asked how to {A} and that worked.",
            "I found out how to {A} myself, thanks.",
            "I already sorted out the {N} thing with your colleague.",
            "It's not a {N} question.");

    /**
     * Sentences that name the message's area ({N}) and another one ({M}); swapping the two nouns makes the sentence
     * of the other class, so only their roles, not the words, tell the area.
     */
    static final List<String> AREA_CONTRASTS = List.of(
            "This is about my {N}, not my {M}.",
            "Not the {M}, the {N}.",
            "Nothing to do with the {M}, it's my {N}.",
            "I mean the {N}; the {M} is fine.",
            "Forget the {M}, my message is about the {N}.");

    /**
     * Sentences that deny the other request type; each has a twin of the other type with the same words in other
     * roles ("not a question, it is a problem" / "not a problem, it is a question").
     */
    static final List<String> PROBLEM_CONTRASTS = List.of(
            "This is not a question, it is a problem.",
            "I don't need a how-to, I need a fix.",
            "Not asking how to {A}: something is broken.",
            "I know how to {A}, that's not my question.");
    static final List<String> QUESTION_CONTRASTS = List.of(
            "This is not a problem, it is a question.",
            "I don't need a fix, I need a how-to.",
            "Nothing is broken: I am asking how to {A}.",
            "I know {P} sometimes, that's not my problem.");

    static final List<String> OPENERS = List.of("Hi,", "Hello,", "Hey team,", "Good morning,", "Dear support,",
            "Hi there.", "Quick one:", "Sorry to bother you again,", "Urgent:", "Hello again,");
    static final List<String> CONTEXTS = List.of("I've been a customer for three years.", "Order 48213.",
            "I'm on the premium plan.", "Writing from my phone, sorry for typos.", "My friend recommended you.",
            "This is my second message today.", "I use the Android version.", "I live in Lyon.",
            "Your chat was closed so I'm emailing.", "I'm on the family plan.");
    static final List<String> CLOSERS = List.of("Thanks!", "Thank you in advance.", "Please help.",
            "Any advice is welcome.", "Cheers, Sam", "Regards.", "Please reply soon.",
            "Thanks for the quick help last time.", "Have a nice day.", "Best, Maria");
}
