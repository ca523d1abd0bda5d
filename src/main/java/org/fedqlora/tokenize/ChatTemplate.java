package org.fedqlora.tokenize;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import org.fedqlora.data.ChatMessage;

import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A chat template: a conversation → the text the model was trained to read, as HuggingFace's
 * {@code tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)} renders it.
 *
 * <p>Model templates are Jinja; they are rendered by HubSpot's Jinjava with HuggingFace's settings
 * ({@code trim_blocks}, {@code lstrip_blocks}) and globals: {@code messages} (role, content), {@code
 * add_generation_prompt}, the special tokens ({@code bos_token}, {@code eos_token}, {@code pad_token}, {@code
 * unk_token}), {@code raise_exception(msg)} (becomes a {@link ChatTemplateException}), {@code strftime_now(fmt)}
 * (Python {@code strftime} codes), the {@code tojson} filter with Python's {@code json.dumps} spacing and {@code
 * indent}, and the {@code {% generation %}} block (rendered as its body). A feature Jinjava cannot render (e.g.
 * Python string methods such as {@code .startswith}, the slice step {@code [::-1]}, an unknown filter) is one
 * {@link ChatTemplateException} naming the template line.
 *
 * <p>Without a model template, {@link #PLAIN}:
 * <pre>
 * {bos}[system content + "\n\n"]"### Instruction:\n" user "\n\n" "### Response:\n" assistant {eos} "\n\n" ...
 * </pre>
 * i.e. each system turn as it is, each user turn after {@code ### Instruction:}, each assistant turn after
 * {@code ### Response:} and followed by the EOS token, any other role after {@code ### Role:}, turns separated by a
 * blank line; the generation prompt is {@code ### Response:\n}.
 */
public final class ChatTemplate {
    /** The plain template used when a model has none (see the class comment). */
    public static final String PLAIN = "{{ bos_token }}{% for message in messages %}"
            + "{% if message.role == 'system' %}{{ message.content }}\n\n"
            + "{% elif message.role == 'user' %}### Instruction:\n{{ message.content }}\n\n"
            + "{% elif message.role == 'assistant' %}### Response:\n{{ message.content }}{{ eos_token }}\n\n"
            + "{% else %}### {{ message.role | capitalize }}:\n{{ message.content }}\n\n"
            + "{% endif %}{% endfor %}{% if add_generation_prompt %}### Response:\n{% endif %}";
    private static final String PLAIN_ORIGIN = "fedqlora's plain template";
    private static final Jinjava ENGINE = engine();
    private static final ThreadLocal<Clock> CLOCK = ThreadLocal.withInitial(Clock::systemDefaultZone);

    private final String source;
    private final String origin;
    private final Map<String, String> special;
    private final Clock clock;

    /**
     * @param source  the Jinja text
     * @param origin  where it came from, for messages ("model/tokenizer_config.json")
     * @param special special tokens by name ({@code bos_token} → "<s>")
     * @param clock   what {@code strftime_now} reads
     */
    public ChatTemplate(String source, String origin, Map<String, String> special, Clock clock) {
        this.source = source;
        this.origin = origin;
        this.special = Map.copyOf(special);
        this.clock = clock;
    }

    /** The model's template, or {@link #PLAIN} when it has none. */
    public static ChatTemplate of(TokenizerConfig cfg) {
        return cfg.chatTemplate() == null ? plain(cfg.special())
                : new ChatTemplate(cfg.chatTemplate(), cfg.origin(), cfg.special(), Clock.systemDefaultZone());
    }

    /**
     * The template a command was asked for: {@code auto} (the model's, else plain), {@code plain}, or the path of
     * a {@code .jinja} file; with the model folder's special tokens.
     */
    public static ChatTemplate select(String spec, java.nio.file.Path modelDir) {
        TokenizerConfig cfg = TokenizerConfig.read(modelDir);
        if (spec == null || spec.equals("auto")) {
            return of(cfg);
        }
        if (spec.equals("plain")) {
            return plain(cfg.special());
        }
        java.nio.file.Path file = java.nio.file.Path.of(spec);
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw new ChatTemplateException("--chat-template " + spec + ": no such file; use auto (the model's "
                    + "template), plain, or the path of a Jinja template file");
        }
        try {
            return new ChatTemplate(java.nio.file.Files.readString(file), file.toString(), cfg.special(),
                    Clock.systemDefaultZone());
        } catch (java.io.IOException e) {
            throw new ChatTemplateException(file + ": cannot read: " + e.getMessage());
        }
    }

    /** A warning when the plain template has no EOS token to end responses with, else null. */
    public String eosWarning() {
        if (isPlain() && !special.containsKey("eos_token")) {
            return "the model folder defines no eos_token (tokenizer_config.json), so the plain template ends "
                    + "responses without an end token: the tuned model will not learn when to stop";
        }
        return null;
    }

    public static ChatTemplate plain(Map<String, String> special) {
        return new ChatTemplate(PLAIN, PLAIN_ORIGIN, special, Clock.systemDefaultZone());
    }

    public boolean isPlain() {
        return source.equals(PLAIN);
    }

    /** Where the template came from ("fedqlora's plain template" or the file). */
    public String origin() {
        return origin;
    }

    public Map<String, String> special() {
        return special;
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders {@code messages}; {@code extra} adds template variables (as keyword arguments to
     * {@code apply_chat_template} do, e.g. {@code tools}, {@code date_string}).
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> extra) {
        List<Map<String, Object>> m = new ArrayList<>(messages.size());
        for (ChatMessage t : messages) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("role", t.role());
            o.put("content", t.content());
            m.add(o);
        }
        Map<String, Object> vars = new HashMap<>(special);
        vars.put("messages", m);
        vars.put("add_generation_prompt", addGenerationPrompt);
        // HF passes these as callables, so a template may test "strftime_now is defined"
        vars.put("strftime_now", "strftime_now");
        vars.put("raise_exception", "raise_exception");
        vars.putAll(extra);
        RenderResult r;
        CLOCK.set(clock);
        try {
            r = ENGINE.renderForResult(source, vars);
        } finally {
            CLOCK.remove();
        }
        check(r);
        return r.getOutput();
    }

    private void check(RenderResult r) {
        for (TemplateError e : r.getErrors()) {
            for (Throwable c = e.getException(); c != null; c = c.getCause()) {
                if (c instanceof Raised raised) {
                    throw new ChatTemplateException("the chat template (" + origin + ") refused the conversation: "
                            + raised.getMessage());
                }
            }
        }
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw unrenderable("line " + e.getLineno() + ": " + e.getMessage());
            }
        }
        for (String used : r.getContext().getResolvedValues()) {
            if (used.startsWith("filter:") && r.getContext().getFilter(used.substring(7)) == null) {
                throw unrenderable("the filter '" + used.substring(7) + "' is not available");
            }
        }
    }

    private ChatTemplateException unrenderable(String what) {
        return new ChatTemplateException("the chat template (" + origin + ") uses a feature fedqlora's Jinja engine "
                + "(Jinjava) cannot render: " + what + "; pass --chat-template plain (or a .jinja file) to use "
                + "another template");
    }

    private static Jinjava engine() {
        Jinjava j = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withEnableFilterChainOptimization(true)   // records every filter used, so unknown ones are caught
                .withLegacyOverrides(LegacyOverrides.newBuilder()  // Jinja2's semantics where Jinjava's differ
                        .withUseTrimmingForNotesAndExpressions(true)  // {{- x -}} and {#- -#} strip whitespace
                        .withParseWhitespaceControlStrictly(true)
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build());
        var g = j.getGlobalContext();
        g.registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException",
                Object.class));
        g.registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow",
                String.class));
        g.registerFilter(new ToJson());
        g.registerTag(new Generation());
        return j;
    }

    /** {@code raise_exception(message)}: the template refuses the conversation. */
    public static Object raiseException(Object message) {
        throw new Raised(String.valueOf(message));
    }

    /** {@code strftime_now(format)}: the current local time in Python's {@code strftime} codes. */
    public static String strftimeNow(String format) {
        return strftime(ZonedDateTime.now(CLOCK.get()), format);
    }

    /** Python's {@code datetime.strftime} for the codes chat templates use (C locale). */
    static String strftime(ZonedDateTime t, String format) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                sb.append(c);
                continue;
            }
            char code = format.charAt(++i);
            switch (code) {
                case 'd' -> sb.append(String.format("%02d", t.getDayOfMonth()));
                case 'm' -> sb.append(String.format("%02d", t.getMonthValue()));
                case 'Y' -> sb.append(t.getYear());
                case 'y' -> sb.append(String.format("%02d", t.getYear() % 100));
                case 'b' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'H' -> sb.append(String.format("%02d", t.getHour()));
                case 'I' -> sb.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'M' -> sb.append(String.format("%02d", t.getMinute()));
                case 'S' -> sb.append(String.format("%02d", t.getSecond()));
                case 'j' -> sb.append(String.format("%03d", t.getDayOfYear()));
                case '%' -> sb.append('%');
                default -> throw new Raised("strftime_now: the code %" + code + " is not supported (supported: "
                        + "%d %m %Y %y %b %B %a %A %H %I %p %M %S %j %%)");
            }
        }
        return sb.toString();
    }

    /** What raise_exception throws through the engine. */
    static final class Raised extends RuntimeException {
        Raised(String message) {
            super(message);
        }
    }

    /** {@code x | tojson(indent=None, sort_keys=False)} as HuggingFace's chat templates define it. */
    private static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, args, Map.of());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
            boolean sort = Boolean.TRUE.equals(kwargs.get("sort_keys"));
            return PythonJson.dumps(var, indent == null ? null : ((Number) indent).intValue(), sort);
        }
    }

    /** {@code {% generation %}...{% endgeneration %}}: marks assistant text for HF's assistant mask; renders its body. */
    private static final class Generation implements Tag {
        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String getEndTagName() {
            return "endgeneration";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder sb = new StringBuilder();
            for (Node child : tagNode.getChildren()) {
                sb.append(child.render(interpreter).getValue());
            }
            return sb.toString();
        }
    }
}
