using System;

namespace Demo
{
    /// <summary>A greeter.</summary>
    public class Greeter
    {
        private readonly string name;

        public Greeter(string name)
        {
            this.name = name;
        }

        /// <summary>Say hello.</summary>
        public string Greet()
        {
            return Format("Hello", name);
        }

        private static string Format(string a, string b) => $"{a}, {b}!";
    }
}
