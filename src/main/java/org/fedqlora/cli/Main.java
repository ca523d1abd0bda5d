package org.fedqlora.cli;

import org.fedqlora.UserException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code ./fedqlora}. */
@Command(name = "fedqlora", mixinStandardHelpOptions = true, version = "fedqlora 0.1.0",
        description = {"Federated, quantization-aware LoRA fine-tuning of language models (FedQLoRA).", ""},
        subcommands = {EncodeCommand.class, QuantizeCommand.class, DataCommand.class, TrainCommand.class, EvalCommand.class, SimulateCommand.class, ServerCommand.class, ClientCommand.class, CertsCommand.class, BenchCommand.class, GenerateCommand.class, DemoCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Run 'fedqlora COMMAND --help' for a command's options and examples."})
public final class Main implements Runnable {

    public static void main(String[] args) {
        stopPromptlyOnSignals();
        System.exit(run(args));
    }

    /**
     * Ctrl-C (SIGINT) and SIGTERM end the process at once with the shell's codes 130 and 143 and one line on stderr.
     * The JVM's default is an orderly exit that runs DJL's shutdown hooks, which free native tensors while the main
     * thread may still be inside libtorch (a backward pass): that crashed the JVM with a fatal-error banner and an
     * hs_err file in the working folder. Halting skips the hooks; nothing is lost that an orderly exit would keep:
     * every output is written atomically, and an interrupted simulation resumes from its last round (--resume).
     */
    private static void stopPromptlyOnSignals() {
        for (String name : new String[] {"INT", "TERM"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> {
                    System.err.println(System.lineSeparator() + "fedqlora: stopped by SIG" + signal.getName());
                    System.err.flush();
                    Runtime.getRuntime().halt(128 + signal.getNumber());
                });
            } catch (IllegalArgumentException e) {
                // the signal is not available here (or the JVM reserves it): keep the default
            }
        }
    }

    /** Runs the CLI and returns the exit code: 0 ok, 2 a user error (message, no stack trace), 1 a bug. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionStrategy(OptionRanges::execute);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable user = userCause(ex);
            if (user != null) {
                // one line, whatever the message: continuation lines would be lost to scripts reading stderr
                cmd.getErr().println("error: " + String.valueOf(user.getMessage()).replaceAll("\\s*\\R\\s*", " "));
                return 2;
            }
            cmd.getErr().println("internal error (please report it with the command you ran):");
            ex.printStackTrace(cmd.getErr());
            return 1;
        });
        cl.setParameterExceptionHandler((ex, params) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("error: " + ex.getMessage());
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(ex, cmd.getErr())) {
                cmd.getErr().println("Run '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
            }
            return 2;
        });
        return cl.execute(args);
    }

    /** The user-caused exception in a cause chain, if any. */
    static Throwable userCause(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof UserException || c instanceof CommandLine.ParameterException
                    || c instanceof IllegalArgumentException) {
                return c;
            }
        }
        return null;
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
