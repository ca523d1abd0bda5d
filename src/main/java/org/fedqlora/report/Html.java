package org.fedqlora.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/** Escaping for text and inline JSON, and a small table builder. Every string from the data goes through here. */
final class Html {
    private Html() {
    }

    /** Text for element content and quoted attribute values: & < > " ' become entities. */
    static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    /**
     * JSON safe to place inside a script element: every < > & (which JSON only has inside strings) and the
     * JavaScript line separators U+2028/U+2029 become \\uXXXX escapes, so no "</script>" or "<!--" can appear.
     */
    static String inlineJson(JsonNode value) {
        String json;
        try {
            json = ReportInputs.MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree failed to serialize", e);
        }
        return json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
                .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029");
    }

    /** One table cell: text (escaped when rendered), right-aligned if numeric, optionally bold, with a tooltip. */
    record Cell(String text, boolean numeric, boolean strong, String title) {
        static Cell text(String text) {
            return new Cell(text, false, false, "");
        }

        static Cell number(String text) {
            return new Cell(text, true, false, "");
        }

        Cell strong(boolean on) {
            return new Cell(text, numeric, on, title);
        }

        Cell title(String tooltip) {
            return new Cell(text, numeric, strong, tooltip);
        }

        String render(String tag) {
            String attributes = (numeric ? " class=\"num\"" : "")
                    + (title.isEmpty() ? "" : " title=\"" + escape(title) + "\"");
            String body = strong ? "<strong>" + escape(text) + "</strong>" : escape(text);
            return "<" + tag + attributes + ">" + body + "</" + tag + ">";
        }
    }

    /** A table with one header row; rendered inside a horizontally scrolling wrapper. */
    static final class Table {
        private final List<Cell> header;
        private final List<List<Cell>> rows = new ArrayList<>();

        Table(List<Cell> header) {
            this.header = List.copyOf(header);
        }

        Table row(List<Cell> cells) {
            rows.add(List.copyOf(cells));
            return this;
        }

        String render() {
            StringBuilder out = new StringBuilder("<div class=\"scroll\"><table>\n<thead><tr>");
            header.forEach(c -> out.append(c.render("th")));
            out.append("</tr></thead>\n<tbody>\n");
            for (List<Cell> row : rows) {
                out.append("<tr>");
                row.forEach(c -> out.append(c.render("td")));
                out.append("</tr>\n");
            }
            return out.append("</tbody>\n</table></div>\n").toString();
        }
    }
}
