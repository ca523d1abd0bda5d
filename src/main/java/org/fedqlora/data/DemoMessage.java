package org.fedqlora.data;

import org.fedqlora.data.DemoVocabulary.Area;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Composes one demo message: [opener] [context], then in random order the request itself, 0-2 dismissed problems or
 * questions of other classes, maybe an area contrast and a request-type contrast, then [closer]; maybe typos or lower
 * case; redrawn until it has {@link DemoData#MIN_WORDS}..{@link DemoData#MAX_WORDS} words.
 */
final class DemoMessage {
    private static final double P_OPENER = 0.7;
    private static final double P_CONTEXT = 0.35;
    private static final double P_NO_DISMISSED = 0.15;
    private static final double P_ONE_DISMISSED = 0.45;
    private static final double P_AREA_CONTRAST = 0.3;
    private static final double P_REQUEST_CONTRAST = 0.3;
    private static final double P_CLOSER = 0.6;
    private static final double P_TYPOS = 0.25;
    private static final double P_LOWER_CASE = 0.15;

    private DemoMessage() {
    }

    /** A message of class {@code label} (index into {@link DemoData#LABELS}: area * 2 + request). */
    static String compose(int label, SplittableRandom random) {
        while (true) {
            String text = draft(label, random);
            int words = text.split("\\s+").length;
            if (words < DemoData.MIN_WORDS) {
                text = pick(DemoVocabulary.CONTEXTS, random) + " " + text;
                words = text.split("\\s+").length;
            }
            if (words >= DemoData.MIN_WORDS && words <= DemoData.MAX_WORDS) {
                return text;
            }
        }
    }

    private static String draft(int label, SplittableRandom random) {
        Area area = area(label);
        boolean problem = isProblem(label);
        List<String> parts = new ArrayList<>();
        maybe(parts, P_OPENER, DemoVocabulary.OPENERS, random);
        maybe(parts, P_CONTEXT, DemoVocabulary.CONTEXTS, random);
        List<String> body = new ArrayList<>();
        body.add(capitalise(fill(pick(problem ? DemoVocabulary.PROBLEM_TEMPLATES
                : DemoVocabulary.QUESTION_TEMPLATES, random), area, random)));
        int dismissed = dismissedCount(random);
        for (int i = 0; i < dismissed; i++) {
            body.add(dismissed(label, random));
        }
        if (random.nextDouble() < P_AREA_CONTRAST) {
            body.add(fill(pick(DemoVocabulary.AREA_CONTRASTS, random), area, random)
                    .replace("{M}", pick(otherArea(area, random).nouns(), random)));
        }
        if (random.nextDouble() < P_REQUEST_CONTRAST) {
            body.add(fill(pick(problem ? DemoVocabulary.PROBLEM_CONTRASTS
                    : DemoVocabulary.QUESTION_CONTRASTS, random), area, random));
        }
        shuffle(body, random);
        parts.addAll(body);
        maybe(parts, P_CLOSER, DemoVocabulary.CLOSERS, random);
        String text = String.join(" ", parts);
        if (random.nextDouble() < P_TYPOS) {
            text = addTypos(text, 1 + random.nextInt(2), random);
        }
        return random.nextDouble() < P_LOWER_CASE ? text.toLowerCase(Locale.ROOT) : text;
    }

    /** How many dismissed problems/questions a message gets: 0, 1 or 2. */
    private static int dismissedCount(SplittableRandom random) {
        double u = random.nextDouble();
        return u < P_NO_DISMISSED ? 0 : u < P_NO_DISMISSED + P_ONE_DISMISSED ? 1 : 2;
    }

    /** A dismissed problem or question of a class other than {@code label}, chosen uniformly. */
    private static String dismissed(int label, SplittableRandom random) {
        int classes = DemoData.LABELS.size();
        int other = (label + 1 + random.nextInt(classes - 1)) % classes;
        List<String> templates = isProblem(other) ? DemoVocabulary.DISMISSED_PROBLEMS
                : DemoVocabulary.DISMISSED_QUESTIONS;
        return fill(pick(templates, random), area(other), random);
    }

    private static Area area(int label) {
        return DemoVocabulary.AREAS.get(label / DemoVocabulary.REQUESTS.size());
    }

    private static boolean isProblem(int label) {
        return label % DemoVocabulary.REQUESTS.size() == 0;
    }

    private static void shuffle(List<String> items, SplittableRandom random) {
        for (int i = items.size() - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            items.set(j, items.set(i, items.get(j)));
        }
    }

    /** An area other than {@code area}, uniformly. */
    private static Area otherArea(Area area, SplittableRandom random) {
        int index = DemoVocabulary.AREAS.indexOf(area);
        int other = (index + 1 + random.nextInt(DemoVocabulary.AREAS.size() - 1)) % DemoVocabulary.AREAS.size();
        return DemoVocabulary.AREAS.get(other);
    }

    /** Replaces the slots {P} {R} {N} {A} {F} {G} with words of {@code area}. */
    private static String fill(String template, Area area, SplittableRandom random) {
        String out = template;
        out = replace(out, "{P}", area.problems(), random);
        out = replace(out, "{R}", area.risks(), random);
        out = replace(out, "{N}", area.nouns(), random);
        out = replace(out, "{A}", area.actions(), random);
        out = replace(out, "{F}", DemoVocabulary.FAILURES, random);
        return replace(out, "{G}", DemoVocabulary.GENERIC_FAULTS, random);
    }

    private static String replace(String text, String slot, List<String> words, SplittableRandom random) {
        return text.contains(slot) ? text.replace(slot, pick(words, random)) : text;
    }

    /** Swaps two neighbouring letters, drops or doubles one, in {@code count} random words of 4+ letters. */
    private static String addTypos(String text, int count, SplittableRandom random) {
        String[] words = text.split(" ");
        for (int t = 0; t < count; t++) {
            int w = random.nextInt(words.length);
            String word = words[w];
            if (word.length() < 4 || !word.chars().allMatch(Character::isLetter)) {
                continue;
            }
            int i = 1 + random.nextInt(word.length() - 2);
            words[w] = switch (random.nextInt(3)) {
                case 0 -> word.substring(0, i) + word.charAt(i + 1) + word.charAt(i) + word.substring(i + 2);
                case 1 -> word.substring(0, i) + word.substring(i + 1);
                default -> word.substring(0, i + 1) + word.substring(i);
            };
        }
        return String.join(" ", words);
    }

    private static void maybe(List<String> parts, double p, List<String> choices, SplittableRandom random) {
        if (random.nextDouble() < p) {
            parts.add(pick(choices, random));
        }
    }

    private static String pick(List<String> choices, SplittableRandom random) {
        return choices.get(random.nextInt(choices.size()));
    }

    private static String capitalise(String s) {
        return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
