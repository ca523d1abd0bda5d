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
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code: 0 ok, 2 a user error (message, no stack trace), 1 a bug. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionStrategy(OptionRanges::execute);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable user = userCause(ex);
            if (user != null) {
                cmd.getErr().println("error: " + user.getMessage());
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
