package org.fedqlora.sim.config;

import java.util.Collection;

/** "did you mean" suggestions by Levenshtein distance, for misspelt keys and choices. */
final class Suggest {
    private Suggest() {
    }

    /**
     * " (did you mean 'x'?)" for the candidate closest to word, or "" when none is close: a candidate whose last
     * dotted segment equals word's ("lr" → "local.lr") wins, otherwise the nearest within max(2, |word| / 3) edits.
     */
    static String didYouMean(String word, Collection<String> candidates) {
        String best = null;
        int bestDistance = Math.max(2, word.length() / 3) + 1;
        String lastSegment = word.substring(word.lastIndexOf('.') + 1);
        for (String c : candidates) {
            int d = c.substring(c.lastIndexOf('.') + 1).equals(lastSegment) ? 0 : distance(word, c);
            if (d < bestDistance) {
                best = c;
                bestDistance = d;
            }
        }
        return best == null || best.equals(word) ? "" : " (did you mean '" + best + "'?)";
    }

    /** Levenshtein edit distance (insertions, deletions, substitutions). */
    static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
