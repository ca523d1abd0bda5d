package org.fedqlora.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A TorchScript module written by this project (no Python needed, DJL-NOTES §13): the archive is made here from
 * TorchScript source text, loaded once, and its methods run on NDArrays, which lets the engine use what DJL's
 * NDArray API lacks (bfloat16 compute, bit operations).
 *
 * <p>Archive layout (format version 3, what {@code torch.jit.load} reads): {@code m/code/__torch__.py} holds the
 * source of {@code class <name>(Module)}; {@code m/data.pkl} is the pickled module object (protocol 2: the class,
 * then a state dict with {@code training = True} and nothing else: the module keeps no tensors);
 * {@code m/constants.pkl} an empty tuple; {@code m/version} "3".
 *
 * <p>Autograd flows through a method run with grad mode on (verified: the gradient of an input equals the
 * same computation written with NDArrays). With grad mode off the method runs under {@code InferenceMode}
 * (DJL's choice), which records nothing. Methods must be pure functions of their inputs (the module is shared by
 * every thread). Results land in the manager of the first argument.
 */
public final class ScriptModule implements AutoCloseable {
    private final NDManager manager;
    private final PtSymbolBlock block;

    private ScriptModule(NDManager manager, PtSymbolBlock block) {
        this.manager = manager;
        this.block = block;
    }

    /** Compiles {@code source} (the body of {@code class className(Module)}, methods indented by 2). */
    public static ScriptModule compile(String className, String source) {
        NDManager m = Engines.newManager();
        Path file = null;
        try {
            file = Files.createTempFile("fedqlora-", ".pt");
            Files.write(file, archive(className, source));
            PtSymbolBlock block = JniUtils.loadModule((PtNDManager) m, file, true, new String[0], new String[0], false);
            return new ScriptModule(m, block);
        } catch (IOException e) {
            m.close();
            throw new UncheckedIOException("cannot write a TorchScript archive to the temp folder", e);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // a leftover temp file is harmless
                }
            }
        }
    }

    /** The archive's bytes. */
    static byte[] archive(String className, String body) throws IOException {
        String code = "class " + className + "(Module):\n"
                + "  __parameters__ = []\n"
                + "  __buffers__ = []\n"
                + "  training : bool\n"
                + body;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bytes)) {
            put(z, "m/data.pkl", pickledModule(className));
            put(z, "m/code/__torch__.py", code.getBytes(StandardCharsets.UTF_8));
            put(z, "m/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'});   // PROTO 2, EMPTY_TUPLE, STOP
            put(z, "m/version", "3\n".getBytes(StandardCharsets.US_ASCII));
            put(z, "m/.data/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        return bytes.toByteArray();
    }

    /** PROTO 2; GLOBAL __torch__.cls; EMPTY_TUPLE NEWOBJ; {"training": True} BUILD; STOP. */
    private static byte[] pickledModule(String cls) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(new byte[] {(byte) 0x80, 2});
        o.writeBytes(("c__torch__\n" + cls + "\n").getBytes(StandardCharsets.US_ASCII));
        o.writeBytes(new byte[] {')', (byte) 0x81, '}', 'X', 8, 0, 0, 0});
        o.writeBytes("training".getBytes(StandardCharsets.US_ASCII));
        o.writeBytes(new byte[] {(byte) 0x88, 's', 'b', '.'});
        return o.toByteArray();
    }

    private static void put(ZipOutputStream z, String name, byte[] data) throws IOException {
        z.putNextEntry(new ZipEntry(name));
        z.write(data);
        z.closeEntry();
    }

    /**
     * Runs {@code method} on tensor arguments, recording autograd when this thread's grad mode is on.
     * The result (one tensor) lands in {@code args[0]}'s manager.
     */
    public NDArray call(String method, NDArray... args) {
        NDArray marker = args[0].getManager().create(new float[0]);
        marker.setName("module_method:" + method);
        NDList in = new NDList(args.length + 1);
        for (NDArray a : args) {
            in.add(a);
        }
        in.add(marker);
        try {
            NDList out = IValueUtils.forward(block, in, JniUtils.isGradMode());
            return out.singletonOrThrow();
        } finally {
            marker.close();
        }
    }

    @Override
    public void close() {
        block.close();
        manager.close();
    }
}
